"""Live evidence around an incident's start, read the way `correlate` reads it: the golden
signals from a Prometheus that answers over HTTP (moves a few minutes before the first alert
are seen when they began), and error lines from a Loki fake only ±5 min around the start."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from core.log_lines import LogRules
from core.metric_evidence import SignalQuery, SignalRules, rank_services
from core.root_cause import ServiceFailure
from core.severity import Severity
from core.topology import Service, Topology
from integrations.evidence import LogEvidenceReader, MetricEvidenceReader
from integrations.loki import LokiClient
from integrations.prometheus import PrometheusClient
from skills.context import SkillTools
from skills.incident_context import ContextInputs, LiveEvidence, observe, snapshot
from tests.integrations.fake_loki import fake_loki

START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
# Minutes before the start at which each service's error ratio steps from 1 % to 9 %: the
# earlier mover is the later name, so a tie broken by name would put it second.
MOVES = {"zeta-db": 6.0, "alpha": 2.0}


def prometheus_answering(moves: dict[str, float]) -> httpx.MockTransport:
    """A Prometheus range-query endpoint: per service, a ratio that wobbles around 1 % and
    steps to 9 % `moves[service]` minutes before the start."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query_range"
        query = request.url.params["query"]
        service = next(name for name in moves if f'"{name}"' in query)
        start = float(request.url.params["start"])
        end = float(request.url.params["end"])
        step = float(request.url.params["step"])
        step_at = START.timestamp() - moves[service] * 60
        values = []
        at, index = start, 0
        while at <= end:
            value = 0.09 if at >= step_at else 0.01 + 0.0004 * (index % 3)
            values.append([at, f"{value:.4f}"])
            at += step
            index += 1
        body = {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"service": service}, "values": values}],
            },
        }
        return httpx.Response(200, content=json.dumps(body))

    return httpx.MockTransport(handle)


RULES = SignalRules(
    queries=[SignalQuery(name="errors", expr='errors{service="$service"}', unit="percent")]
)


async def test_moves_before_the_first_alert_are_seen_when_they_began() -> None:
    async with httpx.AsyncClient(transport=prometheus_answering(MOVES)) as http:
        reader = MetricEvidenceReader(PrometheusClient("http://prometheus", http), RULES)
        report = await reader.around(sorted(MOVES), START)
    assert report.problem is None
    found = {item.service: item for item in report.series}
    for service, minutes in MOVES.items():
        item = found[service]
        assert item.moved_at == START - timedelta(minutes=minutes), service
        # The baseline is the lookback up to 15 min before the start: the 1 % level.
        assert round(item.moved.baseline, 4) == 0.0104
        assert item.moved.peak == 0.09
    # Counted in 30 s steps from 15 min before the start: the earlier mover first.
    assert found["zeta-db"].moved.moved_index == 18
    assert found["alpha"].moved.moved_index == 26
    ranked = rank_services({(item.service, item.signal): item.moved for item in report.series})
    assert [item.service for item in ranked] == ["zeta-db", "alpha"]


async def test_the_earlier_mover_leads_the_incidents_root_cause_ranking() -> None:
    topology = Topology([Service("alpha"), Service("zeta-db")])
    inputs = ContextInputs(
        incident_id=1,
        start=START,
        services=["alpha", "zeta-db"],
        nearby=[],
        changes=[],
        calls={},
        target=None,
        behind=0,
        # The later mover alerted first: only the metrics can tell them apart.
        failures={
            "alpha": ServiceFailure(START, Severity.CRITICAL),
            "zeta-db": ServiceFailure(START + timedelta(seconds=30), Severity.CRITICAL),
        },
        topology=topology,
        stored_cause="alpha",
    )
    async with httpx.AsyncClient(transport=prometheus_answering(MOVES)) as http:
        tools = SkillTools(
            metrics=MetricEvidenceReader(PrometheusClient("http://prometheus", http), RULES)
        )
        live = await observe(inputs, tools, now=START + timedelta(minutes=10))
    found = snapshot(inputs, live, now=START + timedelta(minutes=10))
    assert [cause["service"] for cause in found["root_causes"]] == ["zeta-db", "alpha"]
    assert [m["service"] for m in found["metrics"]] == ["zeta-db", "alpha"]


async def test_error_lines_are_read_five_minutes_either_side_of_the_start() -> None:
    def line(minutes: float, text: str) -> tuple[dict[str, str], int, str]:
        at = START + timedelta(minutes=minutes)
        return {"service": "nova-api"}, int(at.timestamp() * 1e9), text

    entries = [
        line(-12, "ERROR nova.compute.manager Instance failed to spawn: early"),
        line(-6, "ERROR nova.compute.manager Instance failed to spawn: too early"),
        line(-4, "ERROR nova.compute.manager Instance failed to spawn: in the window"),
        line(-1, "INFO nova.osapi_compute.wsgi.server GET /v2/servers/detail status: 200"),
        line(3, "ERROR nova.compute.manager Instance failed to spawn: after the start"),
        line(7, "ERROR nova.compute.manager Instance failed to spawn: too late"),
    ]
    inputs = ContextInputs(
        incident_id=1,
        start=START,
        services=["nova-api"],
        nearby=[],
        changes=[],
        calls={},
        target=None,
        behind=0,
    )
    with fake_loki(entries) as url:
        async with httpx.AsyncClient() as http:
            tools = SkillTools(logs=LogEvidenceReader(LokiClient(url, http), LogRules()))
            live: LiveEvidence = await observe(inputs, tools, now=START + timedelta(minutes=10))
    assert live.logs is not None and live.logs.problem is None
    assert [(line.at - START, line.text.rsplit(": ", 1)[1]) for line in live.logs.lines] == [
        (timedelta(minutes=-4), "in the window"),
        (timedelta(minutes=3), "after the start"),
    ]
    assert [pattern.count for pattern in live.patterns] == [2]
