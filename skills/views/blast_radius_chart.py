"""The blast-radius picture: the affected subgraph as a PNG, coloured by status.

A pure function of a `core.blast_radius.BlastRadius`: no pyplot, no global backend switch
(a `Figure` drawn on its own `FigureCanvasAgg`), so rendering in the bot process cannot
disturb anything else that uses matplotlib, and two renders of one result give the same bytes.
The failing service is on the left; its dependents stand in columns by depth, coloured
failing / degraded / healthy; arrows point from a dependent to what it depends on. Past
`max_services` the nearest ones are drawn and the rest counted in the footer. The title
(wrapped to the figure), the graph, the legend and the footer each have their own band.
"""

from __future__ import annotations

import io

import networkx as nx
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text

from core.blast_radius import BlastRadius, ServiceStatus

COLOURS = {
    ServiceStatus.FAILING: "#d62728",
    ServiceStatus.DEGRADED: "#ff9f1c",
    ServiceStatus.HEALTHY: "#2ca02c",
}
WHAT_IF_COLOUR = "#9467bd"
DEFAULT_MAX_SERVICES = 60
_LABEL_CHARS = 26


# Layout, in inches: the graph's own area per column and per row, the padding around
# everything, and the gap between the title, the graph, the legend and the footer.
COLUMN_WIDTH = 2.6
ROW_HEIGHT = 0.32
MIN_WIDTH = 6.0
MAX_GRAPH_HEIGHT = 20.0
PAD = 0.12
GAP = 0.08
TITLE_SIZE = 9
LABEL_SIZE = 7


def render_blast_radius_png(
    result: BlastRadius, *, max_services: int = DEFAULT_MAX_SERVICES, dpi: int = 100
) -> bytes:
    """The picture of `result` as PNG bytes."""
    figure = blast_radius_figure(result, max_services=max_services, dpi=dpi)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def blast_radius_figure(
    result: BlastRadius, *, max_services: int = DEFAULT_MAX_SERVICES, dpi: int = 100
) -> Figure:
    """The picture of `result` as a laid-out `Figure` on its own Agg canvas.

    The layout is measured, not guessed: the graph gets a fixed area per column and row,
    the figure grows by however far the node labels reach past it, the title is wrapped to
    the figure's width as rendered, and the legend and the footer sit in bands below the
    graph, so no text leaves the figure and the legend covers no label."""
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
    graph_width = COLUMN_WIDTH * columns
    graph_height = min(max(2.0, ROW_HEIGHT * tallest + 0.6), MAX_GRAPH_HEIGHT)
    figure = Figure(figsize=(graph_width, graph_height), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    _draw_graph(axes, graph, result, status_of)
    axes.margins(0.12, 0.08)
    legend = figure.legend(
        handles=_legend_handles(result),
        loc="lower left",
        ncols=4 if not result.what_if else 5,
        fontsize=LABEL_SIZE,
        frameon=False,
        borderaxespad=0.0,
        borderpad=0.0,
    )
    hidden = len(result.affected) - len(shown)
    footer = (
        figure.text(0, 0, f"+{hidden} more dependent services not drawn", fontsize=LABEL_SIZE)
        if hidden
        else None
    )
    title = figure.text(0, 1, result.summary(), fontsize=TITLE_SIZE, ha="left", va="top")
    _lay_out(figure, axes, graph_width, graph_height, title, legend, footer)
    return figure


def _draw_graph(
    axes: Axes,
    graph: nx.DiGraph[str],
    result: BlastRadius,
    status_of: dict[str, ServiceStatus],
) -> None:
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
            fontsize=LABEL_SIZE,
            zorder=3,
            gid="label",
        )


def _legend_handles(result: BlastRadius) -> list[Line2D]:
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colour, label=status.value)
        for status, colour in COLOURS.items()
    ]
    if result.what_if:
        handles.append(
            Line2D([], [], marker="o", linestyle="", color=WHAT_IF_COLOUR, label="what if")
        )
    return handles


def _lay_out(
    figure: Figure,
    axes: Axes,
    graph_width: float,
    graph_height: float,
    title: Text,
    legend: Legend,
    footer: Text | None,
) -> None:
    """Size the figure and place each part (see `blast_radius_figure`); inches throughout."""
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    dpi = figure.dpi
    box = axes.get_window_extent(renderer)
    reach = axes.get_tightbbox(renderer) or box
    # How far labels and arrows reach past the graph's area, on each side.
    left = max(0.0, box.x0 - reach.x0) / dpi
    right = max(0.0, reach.x1 - box.x1) / dpi
    above = max(0.0, reach.y1 - box.y1) / dpi
    below = max(0.0, box.y0 - reach.y0) / dpi
    legend_box = legend.get_window_extent(renderer)
    footer_box = footer.get_window_extent(renderer) if footer is not None else None
    width = max(
        MIN_WIDTH,
        left + graph_width + right + 2 * PAD,
        legend_box.width / dpi + 2 * PAD,
        (footer_box.width / dpi + 2 * PAD) if footer_box is not None else 0.0,
    )
    title.set_text(_wrap_to(title.get_text(), (width - 2 * PAD) * dpi, title, renderer))
    title_height = title.get_window_extent(renderer).height / dpi
    legend_height = legend_box.height / dpi
    footer_height = footer_box.height / dpi + GAP if footer_box is not None else 0.0
    height = (
        PAD + title_height + GAP + above + graph_height + below + GAP
        + legend_height + footer_height + PAD
    )  # fmt: skip
    figure.set_size_inches(width, height)
    # The graph centred across the width, between the title above and the legend below.
    x0 = (width - graph_width - left - right) / 2 + left
    y0 = PAD + footer_height + legend_height + GAP + below
    axes.set_position((x0 / width, y0 / height, graph_width / width, graph_height / height))
    title.set_position((PAD / width, 1 - PAD / height))
    legend.set_bbox_to_anchor(
        (PAD / width, (PAD + footer_height) / height), transform=figure.transFigure
    )
    if footer is not None:
        footer.set_position((PAD / width, PAD / height))


def _wrap_to(text: str, pixels: float, sample: Text, renderer: RendererBase) -> str:
    """`text` broken at spaces into lines no wider than `pixels` as `sample`'s font renders
    them (a single word wider than that is cut with an ellipsis)."""
    properties = sample.get_fontproperties()

    def width(line: str) -> float:
        return float(renderer.get_text_width_height_descent(line, properties, ismath=False)[0])

    lines: list[str] = []
    for word in text.split():
        while width(word) > pixels and len(word) > 1:
            word = word[:-2] + "…"
        if lines and width(lines[-1] + " " + word) <= pixels:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)
