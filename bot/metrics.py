"""Prometheus metrics, in a registry of their own (no global state, so tests stay isolated)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "lookout_alerts_received_total",
            "Alerts received from Alertmanager, by outcome (new, updated, unchanged)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_requests = Counter(
            "lookout_webhook_requests_total",
            "Webhook deliveries by source and HTTP status",
            ["source", "status"],
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "lookout_webhook_duration_seconds",
            "Time to accept a webhook delivery (parse, group, commit)",
            ["source"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.incidents_created = Counter(
            "lookout_incidents_created_total", "Incidents opened", registry=self.registry
        )
        self.incidents_open = Gauge(
            "lookout_incidents_open", "Incidents not yet resolved", registry=self.registry
        )
        self.skill_seconds = Histogram(
            "lookout_skill_duration_seconds",
            "Time to run a skill, by skill and outcome",
            ["skill", "outcome"],
            registry=self.registry,
        )
        self.chat_posts = Counter(
            "lookout_chat_posts_total",
            "Incident root messages posted",
            ["platform"],
            registry=self.registry,
        )
        self.chat_updates = Counter(
            "lookout_chat_updates_total",
            "Incident root messages updated in place",
            ["platform"],
            registry=self.registry,
        )
        self.errors = Counter(
            "lookout_errors_total", "Unexpected errors, by where", ["where"], registry=self.registry
        )

        self.database_connections_opened = Counter(
            "lookout_database_connections_opened_total",
            "Database connections opened (the pool's, for units of work)",
            registry=self.registry,
        )
        self.pages = Counter(
            "lookout_pages_total",
            "Pages (escalation notifications) by channel and outcome: sent, retry, failed",
            ["channel", "outcome"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
