from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from core.alerts import Alert, fingerprint, group_labels_of
from core.correlation import Decision, DecisionKind, correlate
from core.grouping_rules import DEFAULT_RULES, Evidence, GroupingRules
from core.incident_state import IncidentState, label_keys
from core.root_cause import rank_root_causes
from core.severity import Severity
from core.topology import Service, Topology

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)

# web -> checkout -> payments-api -> postgres-primary ; search-api -> elasticsearch
# checkout also -> redis ; reports -> postgres-primary
TOPOLOGY = Topology(
    [
        Service("web", tier=1, depends_on=("checkout", "search-api")),
        Service("checkout", tier=1, depends_on=("payments-api", "redis")),
        Service("payments-api", tier=2, depends_on=("postgres-primary",)),
        Service("reports", tier=3, depends_on=("postgres-primary",)),
        Service("postgres-primary", tier=1),
        Service("redis", tier=2),
        Service("search-api", tier=2, depends_on=("elasticsearch",)),
        Service("elasticsearch", tier=2),
        Service("mailer", tier=3),
    ]
)


def alert(
    name: str,
    service: str,
    seconds: float = 0,
    *,
    severity: str = "warning",
    cluster: str = "eu",
    group_key: str | None = None,
    **labels: str,
) -> Alert:
    all_labels = {
        "alertname": name,
        "service": service,
        "severity": severity,
        "cluster": cluster,
        **labels,
    }
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=T0 + timedelta(seconds=seconds),
        ends_at=None,
        labels=all_labels,
        group_key=group_key,
        group_labels=group_labels_of(group_key),
    )


class Replay:
    """A tiny ingest: decides each alert, opens, joins, reopens and merges incidents."""

    def __init__(self, rules: GroupingRules = DEFAULT_RULES) -> None:
        self.rules = rules
        self.incidents: dict[int, IncidentState] = {}
        self.decisions: list[Decision] = []

    def send(self, *alerts: Alert) -> Decision:
        for item in alerts:
            decision = correlate(item, self.incidents.values(), topology=TOPOLOGY, rules=self.rules)
            if decision.incident_id is None:
                incident_id = max(self.incidents, default=0) + 1
                self.incidents[incident_id] = IncidentState.start(incident_id, item, self.rules)
            else:
                for gone in decision.merged:
                    self.incidents[decision.incident_id].merge(self.incidents.pop(gone))
                self.incidents[decision.incident_id].absorb(item, self.rules)
            self.decisions.append(decision)
        return self.decisions[-1]

    def resolve(self, incident_id: int, seconds: float) -> None:
        self.incidents[incident_id].resolved_at = T0 + timedelta(seconds=seconds)


def database_outage(offset: float = 0, cluster: str = "eu") -> list[Alert]:
    return [
        alert("PostgresDown", "postgres-primary", offset, severity="critical", cluster=cluster),
        alert("HighErrorRate", "payments-api", offset + 25, cluster=cluster),
        alert("HighLatency", "reports", offset + 30, cluster=cluster),
        alert("HighErrorRate", "checkout", offset + 40, cluster=cluster),
        alert("SLOBurn", "web", offset + 70, severity="critical", cluster=cluster),
    ]


def test_a_database_outage_is_one_incident_with_the_database_as_root_cause() -> None:
    replay = Replay()
    replay.send(*database_outage())
    assert list(replay.incidents) == [1]
    assert [d.kind for d in replay.decisions] == [DecisionKind.NEW] + [DecisionKind.JOIN] * 4
    assert replay.decisions[2].reason == "joined: depends on postgres-primary, 1 hop, 30 s after"
    assert replay.decisions[3].reason == "joined: depends on payments-api, 1 hop, 15 s after"
    top = rank_root_causes(replay.incidents[1].services, TOPOLOGY)[0]
    assert top.service == "postgres-primary"
    assert top.confidence > 0.8


def test_a_silent_service_between_counts_as_a_hop() -> None:
    replay = Replay()
    replay.send(alert("PostgresDown", "postgres-primary", 0, severity="critical"))
    decision = replay.send(alert("HighErrorRate", "checkout", 40))
    assert decision.reason == "joined: depends on postgres-primary, 2 hops, 40 s after"
    assert (decision.hops, decision.related_service) == (2, "postgres-primary")


def test_symptoms_before_their_cause_are_merged_when_the_cause_alerts() -> None:
    replay = Replay()
    replay.send(alert("HighErrorRate", "payments-api", 0))
    replay.send(alert("HighLatency", "reports", 5))  # no relation to payments-api: a new one
    assert len(replay.incidents) == 2
    decision = replay.send(alert("PostgresDown", "postgres-primary", 60, severity="critical"))
    assert decision.kind is DecisionKind.JOIN and decision.merged == (2,)
    assert decision.incident_id == 1  # the oldest incident survives
    assert "merged INC-2 (reports depends on it, 1 hop, 55 s after)" in decision.reason
    assert list(replay.incidents) == [1]
    assert rank_root_causes(replay.incidents[1].services, TOPOLOGY)[0].service == (
        "postgres-primary"
    )


def test_two_unrelated_outages_at_once_are_two_incidents() -> None:
    replay = Replay()
    replay.send(*database_outage())
    replay.send(
        alert("ClusterRed", "elasticsearch", 10, severity="critical"),
        alert("HighLatency", "search-api", 50),
    )
    assert len(replay.incidents) == 2
    assert set(replay.incidents[2].services) == {"elasticsearch", "search-api"}
    # web depends on both; its alert joins the incident of its nearest failing dependency.
    assert replay.decisions[-1].incident_id == 2


def test_the_same_outage_in_another_cluster_is_another_incident() -> None:
    replay = Replay()
    replay.send(*database_outage(cluster="eu"))
    replay.send(*database_outage(offset=20, cluster="us"))
    assert len(replay.incidents) == 2


def test_a_late_cause_does_not_steal_an_explained_symptom() -> None:
    """redis fails while checkout is already explained by the database outage."""
    replay = Replay()
    replay.send(*database_outage())
    decision = replay.send(alert("RedisDown", "redis", 90, severity="critical"))
    assert decision.is_new


def test_topology_matches_only_within_the_window() -> None:
    replay = Replay()
    replay.send(alert("PostgresDown", "postgres-primary", 0, severity="critical"))
    assert replay.send(alert("HighErrorRate", "payments-api", 11 * 60)).is_new


def test_same_service_joins_within_the_window_of_its_last_alert() -> None:
    replay = Replay()
    replay.send(alert("DiskFull", "mailer", 0))
    joined = replay.send(alert("QueueBacklog", "mailer", 9 * 60))
    assert joined.reason == "joined: same service mailer, cluster eu, 9 min after its last alert"
    assert joined.evidence is Evidence.LABELS
    assert replay.send(alert("Another", "mailer", 9 * 60 + 11 * 60)).is_new


def test_identity_joins_an_open_incident_whatever_the_time() -> None:
    replay = Replay()
    first = alert("DiskFull", "mailer", 0)
    replay.send(first)
    again = Alert(**{**vars(first), "starts_at": T0 + timedelta(hours=3)})
    assert replay.send(again).reason == "joined: same alert fingerprint"


def test_a_group_key_that_names_no_service_or_instance_counts_for_nothing() -> None:
    """A route without `group_by` (`{}:{}`) or with `group_by: [alertname]` puts unrelated
    alerts in one Alertmanager group; with an always-firing Watchdog in it, trusting the key
    would pull every alert of the day into one incident."""
    for key in ("{}:{}", '{}:{alertname="X"}', '{}/{severity="critical"}:{}'):
        replay = Replay()
        replay.send(alert("Watchdog", "prometheus", 0, group_key=key))
        other_cluster = replay.send(alert("X", "mailer", 30, cluster="us", group_key=key))
        assert other_cluster.is_new, key
        hours_later = replay.send(alert("X", "search-api", 3 * 3600, group_key=key))
        assert hours_later.is_new, key


def test_an_identifying_group_key_joins_within_the_window_of_its_last_alert() -> None:
    """`group_by: [instance]` names a machine: its alerts are one group while they come close
    together; a still-firing alert does not keep the group open for later outages."""
    replay = Replay()
    key = '{}:{instance="node-7:9100"}'
    replay.send(alert("DiskFull", "reports", 0, group_key=key, instance="node-7:9100"))
    joined = replay.send(alert("OOMKills", "mailer", 120, group_key=key, instance="node-7:9100"))
    assert joined.evidence is Evidence.GROUP_KEY and joined.incident_id == 1
    assert joined.reason == "joined: same Alertmanager group"
    # 40 minutes after the group's last alert, nothing resolved: another incident.
    later = replay.send(
        alert("CPUHot", "search-api", 42 * 60, group_key=key, instance="node-7:9100")
    )
    assert later.is_new


def test_a_group_key_join_keeps_to_its_cluster() -> None:
    """`group_by: [service]` spans clusters: the key joins only alerts of a cluster the
    group's alerts are in."""
    replay = Replay()
    key = '{}:{service="mailer"}'
    replay.send(alert("QueueStuck", "mailer", 0, cluster="eu", group_key=key))
    other = replay.send(alert("QueueStuck", "mailer", 60, cluster="us", group_key=key))
    assert other.is_new
    same = replay.send(alert("SMTPDown", "mailer", 90, cluster="eu", group_key=key))
    assert same.incident_id == 1


def test_a_resolved_incident_is_not_reused() -> None:
    replay = Replay()
    replay.send(*database_outage())
    replay.resolve(1, 600)
    # Related by topology, two minutes after resolution: a new incident, not the old one.
    assert replay.send(alert("HighErrorRate", "payments-api", 720, severity="critical")).is_new


def test_a_late_alert_reopens_a_resolved_incident_only_within_the_grace_period() -> None:
    replay = Replay()
    flapping = alert("DiskFull", "mailer", 0)
    replay.send(flapping)
    replay.resolve(1, 300)
    refire = Alert(**{**vars(flapping), "starts_at": T0 + timedelta(seconds=420)})
    decision = replay.send(refire)
    assert decision.kind is DecisionKind.REOPEN and decision.incident_id == 1
    assert decision.reason == "reopened: same alert fingerprint, 2 min after it resolved"
    assert replay.incidents[1].is_open
    replay.resolve(1, 900)
    late = Alert(**{**vars(flapping), "starts_at": T0 + timedelta(seconds=900 + 11 * 60)})
    assert replay.send(late).is_new


def test_a_flapping_cause_reopens_and_takes_back_the_symptoms_it_caused_meanwhile() -> None:
    """postgres alerts, resolves for a moment (the incident resolves), payments-api starts
    failing in that gap (a new incident: topology does not reopen), then postgres fires
    again: its incident reopens and the symptom's incident is merged into it."""
    replay = Replay()
    down = alert("PostgresDown", "postgres-primary", 0, severity="critical")
    replay.send(down)
    replay.resolve(1, 60)
    assert replay.send(alert("HighErrorRate", "payments-api", 90)).is_new
    refire = Alert(**{**vars(down), "starts_at": T0 + timedelta(seconds=150)})
    decision = replay.send(refire)
    assert decision.kind is DecisionKind.REOPEN and decision.incident_id == 1
    assert decision.merged == (2,)
    assert decision.reason == (
        "reopened: same alert fingerprint, 2 min after it resolved; "
        "merged INC-2 (payments-api depends on it, 1 hop, 60 s after)"
    )
    assert list(replay.incidents) == [1] and replay.incidents[1].is_open


def test_a_nearer_cause_links_a_symptom_explained_only_from_further_away() -> None:
    """checkout fails; postgres-primary (two hops below it) alerts and is taken as its
    cause; then redis, checkout's direct dependency, alerts: a nearer explanation of
    checkout, so the same outage rather than a second one."""
    replay = Replay()
    replay.send(alert("HighErrorRate", "checkout", 0))
    replay.send(alert("PostgresDown", "postgres-primary", 20, severity="critical"))
    assert list(replay.incidents) == [1]  # postgres-primary joined as checkout's cause
    replay.send(alert("HighLatency", "web", 30))
    decision = replay.send(alert("RedisDown", "redis", 60, severity="critical"))
    # redis is one hop from checkout, postgres-primary two: redis is the nearer explanation.
    assert decision.kind is DecisionKind.JOIN and decision.incident_id == 1


def test_downstream_warnings_are_suppressed_but_attached() -> None:
    replay = Replay()
    replay.send(*database_outage())
    by_service = {d.related_service: d for d in replay.decisions[1:]}
    checkout = replay.decisions[3]
    assert checkout.incident_id == 1 and checkout.suppressed
    assert checkout.inhibition is not None
    assert checkout.inhibition.reason == "suppressed: downstream of postgres-primary"
    assert checkout.inhibition.hops == 2
    web = replay.decisions[4]
    assert not web.suppressed  # critical: pages even downstream
    assert by_service  # every join named the service it relates to
    assert not replay.decisions[0].suppressed


def test_no_suppression_without_a_critical_upstream_in_the_same_cluster() -> None:
    replay = Replay()
    replay.send(alert("PostgresSlow", "postgres-primary", 0, severity="warning"))
    assert not replay.send(alert("HighErrorRate", "payments-api", 20)).suppressed
    rules = GroupingRules(topology_equal=())
    other = Replay(rules)
    other.send(alert("PostgresDown", "postgres-primary", 0, severity="critical", cluster="us"))
    decision = other.send(alert("HighErrorRate", "payments-api", 20, cluster="eu"))
    assert decision.incident_id == 1 and not decision.suppressed


def test_rules_from_yaml_with_defaults() -> None:
    assert GroupingRules.from_yaml(None) == DEFAULT_RULES
    assert DEFAULT_RULES.topology_hops == 2
    assert DEFAULT_RULES.window == timedelta(minutes=10)
    rules = GroupingRules.from_yaml(
        {
            "window_minutes": 5,
            "topology_hops": 1,
            "label_dimensions": [["service"], ["namespace", "cluster"]],
            "reopen_on": ["fingerprint"],
            "inhibit": {"source_min_severity": "error", "equal": []},
        }
    )
    assert rules.window == timedelta(minutes=5)
    assert rules.label_dimensions == (("service",), ("namespace", "cluster"))
    assert rules.reopen_on == frozenset({Evidence.FINGERPRINT})
    assert rules.inhibit.source_min_severity is Severity.ERROR
    with pytest.raises(ValidationError, match="windw_minutes"):
        GroupingRules.from_yaml({"windw_minutes": 5})
    with pytest.raises(ValidationError, match="unknown severity"):
        GroupingRules.from_yaml({"inhibit": {"target_max_severity": "meh"}})


def test_fewer_hops_allowed_means_fewer_joins() -> None:
    replay = Replay(GroupingRules(topology_hops=1))
    replay.send(alert("PostgresDown", "postgres-primary", 0, severity="critical"))
    assert replay.send(alert("HighErrorRate", "checkout", 30)).is_new


def test_label_keys_need_their_first_label() -> None:
    dimensions = (("service", "cluster"), ("host",), ("namespace", "cluster"))
    assert label_keys({"job": "node", "host": "n1"}, dimensions, "node") == [
        ("service=node", "cluster="),
        ("host=n1",),
    ]
    assert label_keys({"alertname": "X"}, dimensions, None) == []
