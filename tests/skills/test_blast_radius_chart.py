from __future__ import annotations

import struct

import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from core.blast_radius import ServiceStatus, blast_radius
from core.topology import Service, Topology
from skills.views.blast_radius_chart import blast_radius_figure, render_blast_radius_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fifty_dependents() -> Topology:
    """postgres, 10 APIs on it, 4 front ends on each API pair: 50 dependents, 3 deep."""
    apis = [Service(f"api-{i}", team="core", tier=2, depends_on=("postgres",)) for i in range(10)]
    fronts = [
        Service(f"front-{i}", tier=1, depends_on=(f"api-{i % 10}", f"api-{(i + 3) % 10}"),
                users=1_000)
        for i in range(36)
    ]  # fmt: skip
    edge = [Service(f"edge-{i}", depends_on=(f"front-{i}",)) for i in range(4)]
    return Topology([Service("postgres", tier=1), *apis, *fronts, *edge])


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_fifty_service_blast_radius_renders_as_a_sane_png() -> None:
    statuses = {"postgres": ServiceStatus.FAILING, "api-1": ServiceStatus.FAILING}
    statuses |= {f"front-{i}": ServiceStatus.DEGRADED for i in range(5)}
    result = blast_radius(fifty_dependents(), "postgres", statuses)
    assert len(result.affected) == 50
    data = render_blast_radius_png(result)
    assert data.startswith(PNG_SIGNATURE)
    width, height = png_size(data)
    assert 500 <= width <= 4000 and 300 <= height <= 4000
    assert render_blast_radius_png(result) == data  # no hidden state between renders


def test_what_if_and_a_truncated_picture_differ_from_the_full_one() -> None:
    topology = fifty_dependents()
    full = render_blast_radius_png(blast_radius(topology, "postgres"))
    what_if = render_blast_radius_png(blast_radius(topology, "postgres", what_if=True))
    truncated = render_blast_radius_png(blast_radius(topology, "postgres"), max_services=10)
    assert len({full, what_if, truncated}) == 3
    assert all(data.startswith(PNG_SIGNATURE) for data in (what_if, truncated))


def test_a_service_with_no_dependents_still_gets_a_picture() -> None:
    data = render_blast_radius_png(blast_radius(fifty_dependents(), "edge-0"))
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data)[0] >= 500


def test_rendering_does_not_switch_the_global_backend() -> None:
    import matplotlib

    before = matplotlib.get_backend()
    render_blast_radius_png(blast_radius(fifty_dependents(), "api-0"))
    assert matplotlib.get_backend() == before


def long_named() -> Topology:
    """A database with long-named dependents, one with a single hop and a wide column."""
    root = "postgres-primary-cluster-eu-west-1-payments-ledger"
    apis = [
        Service(f"payments-ledger-reconciliation-api-{i}", depends_on=(root,)) for i in range(6)
    ]
    fronts = [
        Service(
            f"customer-facing-checkout-frontend-with-a-very-long-name-{i}",
            depends_on=(f"payments-ledger-reconciliation-api-{i % 6}",),
        )
        for i in range(9)
    ]
    return Topology([Service(root), *apis, *fronts])


def text_boxes(figure: Figure) -> tuple[list[Bbox], list[Bbox], Bbox]:
    """(every text's extent, the node labels' extents, the legend's extent), in pixels."""
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    [axes] = figure.axes
    legend = figure.legends[0]
    labels = [t for t in axes.texts if t.get_gid() == "label"]
    texts = [*figure.texts, *labels, *legend.get_texts()]
    assert all(t.get_text() for t in texts)
    boxes = [t.get_window_extent(renderer) for t in texts]
    return (
        boxes,
        [t.get_window_extent(renderer) for t in labels],
        legend.get_window_extent(renderer),
    )


@pytest.mark.parametrize("what_if", [False, True])
@pytest.mark.parametrize("max_services", [60, 5])
def test_no_text_leaves_the_figure_and_the_legend_covers_no_label(
    what_if: bool, max_services: int
) -> None:
    topology = long_named()
    root = "postgres-primary-cluster-eu-west-1-payments-ledger"
    statuses = {root: ServiceStatus.FAILING}
    result = blast_radius(topology, root, statuses, what_if=what_if)
    figure = blast_radius_figure(result, max_services=max_services)
    figure.canvas.draw()
    frame = figure.bbox
    boxes, labels, legend = text_boxes(figure)
    assert len(labels) == min(max_services, 15) + 1
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (box, frame)
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (box, frame)
    assert not any(legend.overlaps(label) for label in labels)
    title = figure.texts[-1]
    assert title.get_text().replace("\n", " ") == result.summary()


def test_a_title_longer_than_the_figure_wraps_inside_it() -> None:
    root = "postgres-primary-cluster-eu-west-1-payments-ledger-replica-set-a"
    topology = Topology([Service(root), Service("ledger-api", depends_on=(root,))])
    result = blast_radius(topology, root)
    figure = blast_radius_figure(result)
    figure.canvas.draw()
    title = figure.texts[-1]
    assert "\n" in title.get_text()
    assert title.get_text().replace("\n", " ") == result.summary()
    boxes, labels, legend = text_boxes(figure)
    assert all(figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1 for box in boxes)
    assert not any(legend.overlaps(label) for label in labels)


def test_the_check_catches_a_title_that_runs_off() -> None:
    """The same extents catch an unwrapped long title: the checks above can fail."""
    root = "postgres-primary-cluster-eu-west-1-payments-ledger"
    result = blast_radius(long_named(), root, {root: ServiceStatus.FAILING})
    figure = blast_radius_figure(result)
    figure.texts[-1].set_text(result.summary() + " " + result.summary())
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    assert figure.texts[-1].get_window_extent(renderer).x1 > figure.bbox.x1
