"""Scoring changes against an incident: timing, service, environment and kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.change_correlation import STRONG, score_changes, strongest
from core.changes import ChangeEvent, ChangeKind, ChangeStatus
from core.incident_summary import summarize
from core.incidents import AlertBrief
from core.severity import Severity
from core.topology import Service, Topology

T0 = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
TOPOLOGY = Topology(
    [
        Service("web", depends_on=("checkout",)),
        Service("checkout", depends_on=("payments",)),
        Service("payments", depends_on=("postgres",)),
        Service("postgres"),
        Service("search"),
    ]
)


def change(
    service: str = "checkout",
    minutes_before: float = 15,
    kind: ChangeKind = ChangeKind.DEPLOYMENT,
    environment: str | None = "prod",
    **kwargs: object,
) -> ChangeEvent:
    landed = T0 - timedelta(minutes=minutes_before)
    return ChangeEvent(
        id=f"{service}-{minutes_before}-{kind}",
        kind=kind,
        services=(service,),
        started_at=landed - timedelta(minutes=3),
        finished_at=landed,
        source="webhook",
        environment=environment,
        version="v2.3.1",
        **kwargs,  # type: ignore[arg-type]
    )


def score(*changes: ChangeEvent, services: tuple[str, ...] = ("checkout",)) -> list[float]:
    scored = score_changes(
        changes, services=services, first_alert_at=T0, topology=TOPOLOGY, environment="production"
    )
    return [item.score for item in scored]


def test_a_deploy_of_the_failing_service_15_minutes_before_is_strong() -> None:
    [scored] = score_changes(
        [change()],
        services=["checkout"],
        first_alert_at=T0,
        topology=TOPOLOGY,
        environment="production",
    )
    assert scored.relation == "same" and scored.strong
    assert 0.8 <= scored.score <= 0.9
    assert scored.headline() == "⚠ checkout v2.3.1 deployed 15 min before — score 0.84"


def test_each_factor_lowers_the_score() -> None:
    [base] = score(change())
    assert score(change(minutes_before=90))[0] < base  # later in the window
    assert score(change(environment="staging"))[0] < 0.3  # another environment
    assert score(change(environment=None))[0] < base  # environment unknown
    assert score(change(kind=ChangeKind.SCALING))[0] < base
    dependency, two_hops, unrelated = (
        score(change("payments"))[0],
        score(change("postgres"))[0],
        score(change("search"))[0],
    )
    assert base > dependency > two_hops > unrelated
    assert score(change("web"))[0] < dependency  # a caller of the failing service


def test_only_changes_in_the_two_hours_before_the_first_alert_count() -> None:
    assert score(change(minutes_before=130)) == []
    assert score(change(minutes_before=-10)) == []  # after the first alert: a fix, not a cause
    assert len(score(change(minutes_before=119))) == 1


def test_a_rollout_still_running_when_the_alert_fired_scores_as_landing_then() -> None:
    rolling = ChangeEvent(
        id="r",
        kind=ChangeKind.DEPLOYMENT,
        services=("checkout",),
        started_at=T0 - timedelta(minutes=4),
        finished_at=T0 + timedelta(minutes=5),
        status=ChangeStatus.SUCCEEDED,
        source="argocd",
        environment="production",
    )
    [scored] = score_changes(
        [rolling], services=["checkout"], first_alert_at=T0, topology=TOPOLOGY, environment="prod"
    )
    assert scored.minutes_before == 0 and scored.score == 1.0


def test_the_best_change_comes_first_and_weak_ones_are_not_named() -> None:
    scored = score_changes(
        [change("search", 5), change("checkout", 20)],
        services=["checkout"],
        first_alert_at=T0,
        topology=TOPOLOGY,
    )
    assert [s.change.services for s in scored] == [("checkout",), ("search",)]
    assert strongest(scored) is scored[0]
    weak = score_changes(
        [change("search", 5)], services=["checkout"], first_alert_at=T0, topology=TOPOLOGY
    )
    assert weak[0].score < STRONG and strongest(weak) is None


def brief(service: str, minutes: float, severity: Severity = Severity.CRITICAL) -> AlertBrief:
    at = T0 + timedelta(minutes=minutes)
    return AlertBrief(f"fp-{service}", "HighErrorRate", severity, service, True, at)


def test_a_strong_change_is_the_suspect_and_raises_its_service_in_the_ranking() -> None:
    # search and checkout fail together, unrelated in the catalog; search alerted first.
    briefs = [brief("search", 0), brief("checkout", 1)]
    plain = summarize(briefs, TOPOLOGY)
    assert plain.root_cause is not None and plain.root_cause["service"] == "search"
    assert plain.suspect_change is None

    deploy = change("checkout", 15, environment="production")
    summary = summarize(briefs, TOPOLOGY, changes=[deploy], environment="production")
    assert summary.root_cause is not None and summary.root_cause["service"] == "checkout"
    assert any("changed" in factor for factor in summary.root_cause["factors"])
    assert summary.suspect_change is not None
    assert summary.suspect_change["change"]["id"] == deploy.id


def test_a_weak_change_changes_nothing() -> None:
    briefs = [brief("search", 0), brief("checkout", 1)]
    summary = summarize(
        briefs,
        TOPOLOGY,
        changes=[change("checkout", 15, environment="staging")],
        environment="production",
    )
    assert summary.suspect_change is None
    assert summary.root_cause is not None and summary.root_cause["service"] == "search"
