from __future__ import annotations

import struct

from core.blast_radius import ServiceStatus, blast_radius
from core.topology import Service, Topology
from skills.views.blast_radius_chart import render_blast_radius_png

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
