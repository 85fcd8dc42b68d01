"""An incident's context put together from hand-built inputs (`snapshot` is pure): the
confidence in its four factors, and the root-cause ranking with metric evidence added."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from core.blast_radius import ServiceStatus
from core.change_correlation import ScoredChange
from core.changes import ChangeEvent, ChangeKind
from core.dependency_health import DependencyHealth, EdgeSignals, Finding
from core.metric_evidence import Movement
from core.root_cause import ServiceFailure
from core.severity import Severity
from core.topology import Service, Topology
from integrations.dependency_health import DependencyReport
from integrations.evidence import LogReport, MetricReport, SeriesEvidence
from knowledge.documents import Document
from knowledge.similar import Match
from skills.incident_context import ContextInputs, LiveEvidence, snapshot
from skills.views.context_card import snapshot_blocks

START = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)
NOW = START + timedelta(minutes=10)


def inputs(**overrides: object) -> ContextInputs:
    values: dict[str, object] = {
        "incident_id": 7,
        "start": START,
        "services": ["checkout"],
        "nearby": [],
        "changes": [],
        "calls": {},
        "target": None,
        "behind": 0,
    }
    values.update(overrides)
    return ContextInputs(**values)  # type: ignore[arg-type]


def deploy(score: float, timing: float) -> ScoredChange:
    change = ChangeEvent(
        id="deploy-981",
        kind=ChangeKind.DEPLOYMENT,
        services=("checkout",),
        started_at=START - timedelta(minutes=12),
        source="test",
        version="v2.3.1",
    )
    factors = {"timing": timing, "service": 1.0, "environment": 1.0, "kind": 1.0}
    return ScoredChange(change, score, "checkout", "same", 12.0, factors)


def moved(service: str, z: float, minutes: float, signal: str = "errors") -> SeriesEvidence:
    """A golden signal that moved `minutes` after the start (negative: before), as the
    reader reports it: the change point counted in 30 s steps from 15 min before the start."""
    at = START + timedelta(minutes=minutes)
    index = round((minutes + 15) * 2)
    return SeriesEvidence(
        service=service,
        signal=signal,
        unit="percent",
        moved=Movement(score=z, direction=1, moved_index=index, baseline=0.01, peak=0.3),
        moved_at=at,
        points=[(at.timestamp(), 0.3)],
    )


def degraded_call() -> DependencyHealth:
    signals = EdgeSignals(rate=10.0, error_ratio=0.1, latency=0.2)
    return DependencyHealth(
        client="checkout",
        server="payments",
        source="tempo",
        now=signals,
        baseline=EdgeSignals(rate=10.0, error_ratio=0.01, latency=0.2),
        baseline_label="1h before",
        findings=(Finding("errors", ServiceStatus.DEGRADED, 0.1, 0.01),),
    )


def look_alike(similarity: float) -> Match:
    document = Document(id="incident:3", kind="incident", title="checkout: HighErrorRate", text="")
    return Match(
        document=document,
        incident_id=3,
        score=0.033,  # a rank-fusion score: it orders matches, it does not say how alike
        similarity=similarity,
        reasons=("same service checkout",),
        fix="rolled back checkout",
    )


def test_confidence_of_a_moved_metric_over_a_weaker_change_with_a_precedent() -> None:
    live = LiveEvidence(
        metrics=MetricReport(series=[moved("checkout", z=10.0, minutes=-1)]),
        dependencies=DependencyReport(edges=[degraded_call()], total=1),
        logs=LogReport(problem="Loki could not be reached, so there are no log patterns."),
        similar=[look_alike(0.61), look_alike(0.72)],
    )
    found = snapshot(inputs(changes=[deploy(score=0.6, timing=0.7)]), live, now=NOW)
    confidence = found["confidence"]
    # Strength: the metric's 1 - e^(-10/10) = 0.63 beats the change (0.6) and the degraded
    # call (0.5); timing: 1, a metric moved by the start; precedent: the closest look-alike;
    # quality: 3 of 4 sources answered (the change log, Prometheus twice; Loki did not).
    assert confidence["factors"] == {
        "signal strength": 0.63,
        "timing": 1.0,
        "precedent": 0.72,
        "evidence quality": 0.75,
    }
    assert confidence["score"] == round(0.4 * 0.63 + 0.25 * 1.0 + 0.15 * 0.72 + 0.2 * 0.75, 2)
    assert confidence["score"] == 0.76
    assert confidence["leading"] == "metrics: checkout errors"
    assert found["problems"] == ["Loki could not be reached, so there are no log patterns."]


def test_confidence_of_a_strong_change_takes_its_timing() -> None:
    live = LiveEvidence(metrics=MetricReport(series=[moved("checkout", z=4.0, minutes=0)]))
    found = snapshot(inputs(changes=[deploy(score=0.85, timing=0.7)]), live, now=NOW)
    confidence = found["confidence"]
    assert confidence["factors"] == {
        "signal strength": 0.85,
        "timing": 0.7,
        "precedent": 0.0,
        "evidence quality": 1.0,
    }
    assert confidence["score"] == round(0.4 * 0.85 + 0.25 * 0.7 + 0.2 * 1.0, 2)
    assert confidence["leading"] == "change: checkout v2.3.1 deployed"


def test_confidence_of_a_failing_call_alone() -> None:
    call = degraded_call()
    failing = DependencyHealth(
        **{**call.__dict__, "findings": (Finding("errors", ServiceStatus.FAILING, 0.5, 0.01),)}
    )
    found = snapshot(
        inputs(), LiveEvidence(dependencies=DependencyReport(edges=[failing], total=1)), now=NOW
    )
    confidence = found["confidence"]
    assert confidence["factors"] == {
        "signal strength": 0.8,
        "timing": 1.0,
        "precedent": 0.0,
        "evidence quality": 1.0,
    }
    assert confidence["score"] == pytest.approx(0.4 * 0.8 + 0.25 + 0.2)
    assert confidence["leading"].startswith("dependency: checkout → payments errors")


def test_no_evidence_is_confidence_from_quality_alone() -> None:
    live = LiveEvidence(metrics=MetricReport(problem="Prometheus could not be reached."))
    confidence = snapshot(inputs(), live, now=NOW)["confidence"]
    assert confidence["factors"] == {
        "signal strength": 0.0,
        "timing": 0.0,
        "precedent": 0.0,
        "evidence quality": 0.5,
    }
    assert confidence["score"] == 0.1
    assert confidence["leading"] is None
    assert math.isclose(confidence["score"], 0.2 * 0.5)


TOPOLOGY = Topology(
    [
        Service("frontend", depends_on=("cart", "payments")),
        Service("cart", depends_on=("redis",)),
        Service("payments"),
        Service("redis"),
    ]
)


def test_the_snapshot_ranks_the_service_that_moved_first_above_the_one_that_alerted_first() -> None:
    failures = {
        "cart": ServiceFailure(START, Severity.CRITICAL),
        "payments": ServiceFailure(START + timedelta(minutes=1), Severity.CRITICAL),
    }
    context = inputs(
        services=["cart", "payments"],
        failures=failures,
        topology=TOPOLOGY,
        stored_cause="cart",
        calls={"cart": ["redis"], "payments": []},
    )
    live = LiveEvidence(
        metrics=MetricReport(
            series=[
                moved("payments", z=40.0, minutes=-6),
                moved("payments", z=12.0, minutes=-5, signal="latency p99"),
                moved("cart", z=8.0, minutes=-2),
            ]
        )
    )
    found = snapshot(context, live, now=NOW)
    ranking = found["root_causes"]
    assert [cause["service"] for cause in ranking] == ["payments", "cart"]
    assert ranking[0]["metrics"] and ranking[1]["metrics"]
    assert (
        "metrics moved first, before any alert: errors, robust z 40.0, at 2026-11-30T09:59:00Z"
        in (ranking[0]["factors"])
    )
    assert found["stored_cause"] == "cart"
    text = "\n".join(getattr(block, "text", "") for block in snapshot_blocks(found))
    assert "**Probable root cause, alerts and metrics**\n• payments — " in text
    assert (
        "The incident message names cart from its alerts alone; "
        "with the metrics, payments ranks first." in text
    )


def test_a_silent_dependency_whose_metrics_moved_first_joins_the_ranking() -> None:
    context = inputs(
        services=["cart"],
        nearby=["redis"],
        failures={"cart": ServiceFailure(START, Severity.CRITICAL)},
        topology=TOPOLOGY,
        stored_cause="cart",
        calls={"cart": ["redis"], "redis": []},
    )
    live = LiveEvidence(
        metrics=MetricReport(
            series=[
                moved("redis", z=30.0, minutes=-4, signal="saturation"),
                moved("redis", z=9.0, minutes=-3, signal="latency p99"),
                moved("cart", z=12.0, minutes=-1),
            ]
        )
    )
    ranking = snapshot(context, live, now=NOW)["root_causes"]
    assert [cause["service"] for cause in ranking] == ["redis", "cart"]
    assert ranking[0]["factors"][0].startswith("no alert, its metrics moved at")
    assert any("(discounted: redis, which it calls," in f for f in ranking[1]["factors"])


def test_one_alerting_service_and_no_moved_metric_repeats_nothing() -> None:
    context = inputs(failures={"checkout": ServiceFailure(START, Severity.CRITICAL)})
    unmoved = SeriesEvidence(
        "checkout", "errors", "percent", Movement(1.0, 1, None, 0.01, 0.011), None, []
    )
    live = LiveEvidence(metrics=MetricReport(series=[unmoved]))
    found = snapshot(context, live, now=NOW)
    assert found["root_causes"] == []
    text = "\n".join(getattr(block, "text", "") for block in snapshot_blocks(found))
    assert "Probable root cause" not in text
