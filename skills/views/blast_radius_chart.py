"""The blast-radius picture: the affected subgraph as a PNG, coloured by status.

A pure function of a `core.blast_radius.BlastRadius`: no pyplot, no global backend switch
(a `Figure` drawn on its own `FigureCanvasAgg`), so rendering in the bot process cannot
disturb anything else that uses matplotlib, and two renders of one result give the same bytes.
The failing service is on the left; its dependents stand in columns by depth, coloured
failing / degraded / healthy; arrows point from a dependent to what it depends on. Past
`max_services` the nearest ones are drawn and the rest counted in the footer.
"""

from __future__ import annotations

import io

import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from core.blast_radius import BlastRadius, ServiceStatus

COLOURS = {
    ServiceStatus.FAILING: "#d62728",
    ServiceStatus.DEGRADED: "#ff9f1c",
    ServiceStatus.HEALTHY: "#2ca02c",
}
WHAT_IF_COLOUR = "#9467bd"
DEFAULT_MAX_SERVICES = 60
_LABEL_CHARS = 26


def render_blast_radius_png(
    result: BlastRadius, *, max_services: int = DEFAULT_MAX_SERVICES, dpi: int = 100
) -> bytes:
    """The picture of `result` as PNG bytes."""
    shown = list(result.affected[:max_services])
    depth_of = {result.service: 0} | {item.name: item.depth for item in shown}
    status_of = {item.name: item.status for item in shown}
    graph: nx.DiGraph[str] = nx.DiGraph()
    for name, depth in depth_of.items():
        graph.add_node(name, depth=depth)
    graph.add_edges_from(
        (dependent, dependency)
        for dependent, dependency in result.edges()
        if dependent in depth_of and dependency in depth_of
    )
    columns = max(depth_of.values()) + 1
    tallest = max(list(depth_of.values()).count(depth) for depth in range(columns))
    figure = Figure(figsize=(max(6.0, 2.6 * columns), min(max(3.5, 0.32 * tallest + 1.8), 24)))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_axis_off()
    layout = nx.multipartite_layout(graph, subset_key="depth", align="vertical")
    positions = {name: (float(x), float(y)) for name, (x, y) in layout.items()}
    for dependent, dependency in graph.edges():
        axes.annotate(
            "",
            xy=positions[dependency],
            xytext=positions[dependent],
            arrowprops={"arrowstyle": "-|>", "color": "#9a9a9a", "lw": 0.8, "shrinkB": 7},
            zorder=1,
        )
    origin_colour = (
        WHAT_IF_COLOUR
        if result.what_if
        else COLOURS.get(result.status, COLOURS[ServiceStatus.FAILING])
    )
    for name, (x, y) in positions.items():
        is_origin = name == result.service
        colour = origin_colour if is_origin else COLOURS[status_of[name]]
        axes.scatter(
            [x],
            [y],
            s=220 if is_origin else 90,
            c=colour,
            edgecolors="black" if is_origin else "white",
            linewidths=2 if is_origin else 0.8,
            zorder=2,
        )
        label = name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…"
        axes.annotate(
            label,
            (x, y),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            zorder=3,
        )
    axes.margins(0.12, 0.08)
    axes.set_title(_wrap(result.summary(), 110), fontsize=9, loc="left")
    legend = [
        Line2D([], [], marker="o", linestyle="", color=colour, label=status.value)
        for status, colour in COLOURS.items()
    ]
    if result.what_if:
        legend.append(
            Line2D([], [], marker="o", linestyle="", color=WHAT_IF_COLOUR, label="what if")
        )
    axes.legend(handles=legend, loc="lower right", fontsize=7, frameon=False)
    hidden = len(result.affected) - len(shown)
    if hidden:
        figure.text(0.01, 0.01, f"+{hidden} more dependent services not drawn", fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _wrap(text: str, width: int) -> str:
    """Break a long title at spaces so it stays inside the picture."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)
