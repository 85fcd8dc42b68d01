"""Tables. Idempotency lives here (unique keys), not in memory, so replicas can share a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.projects import DEFAULT_PROJECT

# SQLite has no 64-bit autoincrement alias for BIGINT; INTEGER PRIMARY KEY is its rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class AlertRow(Base):
    """One occurrence of an alert: the n-th time its fingerprint fired (or arrived resolved).

    An alert is its fingerprint, as in Alertmanager; it fires again only after it resolved,
    so at most one occurrence per fingerprint is firing, and it is the latest. Text columns
    that are indexed hold `bounded` values; the labels keep everything as sent."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("fingerprint", "occurrence", name="uq_alerts_fingerprint_occurrence"),
        Index("ix_alerts_incident_id", "incident_id"),
        # Covers what grouping reads per open incident (per-service first/last alert) and
        # what titles, severities and chat messages derive from (`AlertRepository.briefs`),
        # so neither reads the alerts' rows.
        Index(
            "ix_alerts_grouping",
            "incident_id",
            "service",
            "severity",
            "name",
            "status",
            "seen_firing",
            "starts_at",
            "fingerprint",
        ),
        Index("ix_alerts_group_key", "group_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    # False for an alert that arrived resolved and was never seen firing: it is kept, but
    # it names nothing and opens nothing.
    seen_firing: Mapped[bool] = mapped_column(default=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(16))
    service: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    group_key: Mapped[str | None] = mapped_column(Text)
    generator_url: Mapped[str | None] = mapped_column(Text)
    receiver: Mapped[str | None] = mapped_column(String(255))
    incident_id: Mapped[int | None] = mapped_column(Id, ForeignKey("incidents.id"))
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The failing service upstream that inhibits this alert: attached, but it does not page.
    suppressed_by: Mapped[str | None] = mapped_column(String(255), default=None)


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_project", "project"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(255))
    first_alert_at: Mapped[datetime]
    last_alert_at: Mapped[datetime]
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    # Bumped on every change that the incident's chat message shows; notifiers compare it
    # with the revision they last rendered, which coalesces bursts of changes into one update.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    mitigated_at: Mapped[datetime | None] = mapped_column(default=None)
    # The probable root cause as `core.incident_summary.root_cause_record` wrote it.
    root_cause: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Set when the incident was merged into another one (it is then resolved).
    merged_into: Mapped[int | None] = mapped_column(Id, default=None)
    # A strong change before the first alert (`core.change_correlation.ScoredChange.record`).
    suspect_change: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The current episode (an incident that reopens starts a new one): its number, when it
    # opened by Lookout's clock, and its first alert's event time. `acknowledged_*` and
    # `resolved_*` above are the current episode's; `incident_episodes` keeps every one.
    episode: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime]
    episode_started_at: Mapped[datetime]
    # When the incident ended in event time (its last alert's endsAt, or the resolve).
    resolved_event_at: Mapped[datetime | None] = mapped_column(default=None)
    # The most alerts Alertmanager said it left out of a delivery to this incident.
    truncated_alerts: Mapped[int] = mapped_column(Integer, default=0)
    # Who owns the incident (`assign`): their platform, id there and name; None: nobody.
    owner_platform: Mapped[str | None] = mapped_column(String(32), default=None)
    owner_id: Mapped[str | None] = mapped_column(String(255), default=None)
    owner_name: Mapped[str | None] = mapped_column(String(255), default=None)
    # Who set the severity by hand (`severity`); while set, alerts no longer change it.
    severity_set_by: Mapped[str | None] = mapped_column(String(255), default=None)
    # The project the incident belongs to (`core.projects`): its first alert's.
    project: Mapped[str] = mapped_column(String(64), default=DEFAULT_PROJECT)


class IncidentEpisodeRow(Base):
    """One opening of an incident, with its own acknowledgement and resolution (MTTA, MTTR).

    `resolution` says how it ended: `manual` (a person), `alerts` (every alert resolved),
    `merged` (folded into another incident), `split` (made of alerts taken from another
    incident). `counted` is False for episodes whose times say nothing about a response
    (merged into another, or split off already resolved)."""

    __tablename__ = "incident_episodes"
    __table_args__ = (
        UniqueConstraint("incident_id", "number", name="uq_incident_episodes_number"),
        Index("ix_incident_episodes_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    number: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime]
    started_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(255), default=None)
    resolution: Mapped[str | None] = mapped_column(String(32), default=None)
    counted: Mapped[bool] = mapped_column(default=True)


class IncidentAlertRow(Base):
    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(Id, ForeignKey("alerts.id"), primary_key=True)
    joined_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)


class IncidentEventRow(Base):
    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_id_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]


class ChatThreadRow(Base):
    """Where an incident's root message lives on one platform."""

    __tablename__ = "chat_threads"
    __table_args__ = (UniqueConstraint("incident_id", "platform", name="uq_chat_threads_incident"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255))
    thread_id: Mapped[str | None] = mapped_column(String(255))
    rendered_revision: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Why the platform refused the full message for good; a compact one is shown instead.
    degraded: Mapped[str | None] = mapped_column(Text, default=None)
    # Delivery stopped for good at this revision of its source (a permanent error, or too
    # many failed attempts); a later change of the source gets one more try.
    gave_up_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_users_identity"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    # The project a direct message acts in (`project use`); None: the first one they are in.
    default_project: Mapped[str | None] = mapped_column(String(64), default=None)


class ProjectRoleRow(Base):
    """A role given in chat (`role <user> <role>`) to one person in one project; it adds to
    the roles the config gives (the higher one counts)."""

    __tablename__ = "project_roles"
    __table_args__ = (
        UniqueConstraint("platform", "platform_user_id", "project", name="uq_project_roles_member"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(255))
    project: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))
    user_name: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]]
    outcome: Mapped[str] = mapped_column(String(32))
    project: Mapped[str | None] = mapped_column(String(64), default=None)


class ConsoleMessageRow(Base):
    """Messages of the local console platform (Slack and Teams keep theirs in their clouds)."""

    __tablename__ = "console_messages"
    __table_args__ = (Index("ix_console_messages_channel", "channel", "thread_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(255))
    thread_id: Mapped[int | None] = mapped_column(Id)
    author: Mapped[str] = mapped_column(String(255))
    author_kind: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(Id)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlatformRequestRow(Base):
    """A chat platform request already handled; a retried delivery finds it and stops."""

    __tablename__ = "platform_requests"
    __table_args__ = (
        UniqueConstraint("platform", "request_id", name="uq_platform_requests_request"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]


class ConversationRefRow(Base):
    """Where a platform lets Lookout speak first (Teams conversation references)."""

    __tablename__ = "conversation_refs"
    __table_args__ = (UniqueConstraint("platform", "key", name="uq_conversation_refs_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(String(255))
    reference: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    # The platform removed Lookout from this conversation (the app uninstalled, the channel
    # deleted, the bot blocked): nothing is sent there until Lookout is added again.
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    removed_reason: Mapped[str | None] = mapped_column(String(255), default=None)


class ChatNoticeRow(Base):
    """A delivery problem already told to the admin channel, so it is told once; deleted
    when that channel (or the platform, for app-wide problems) works again."""

    __tablename__ = "chat_notices"
    __table_args__ = (UniqueConstraint("platform", "key", name="uq_chat_notices_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(512))
    key: Mapped[str] = mapped_column(String(512))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class RunbookRunRow(Base):
    """One request to run a runbook: its plan, approvals, progress and outcome."""

    __tablename__ = "runbook_runs"
    __table_args__ = (
        Index("ix_runbook_runs_runbook_requested", "runbook", "requested_at"),
        Index("ix_runbook_runs_status", "status"),
        Index("ix_runbook_runs_project", "project"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    runbook: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    risk: Mapped[str] = mapped_column(String(16))
    arguments: Mapped[dict[str, Any]]
    incident_id: Mapped[int | None] = mapped_column(Id, ForeignKey("incidents.id"))
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_by_name: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(255))
    thread: Mapped[str | None] = mapped_column(String(255))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    approvals_needed: Mapped[int] = mapped_column(Integer, default=0)
    approvals: Mapped[dict[str, Any]]
    dry_run: Mapped[bool] = mapped_column(default=False)
    plan: Mapped[dict[str, Any]]
    steps: Mapped[dict[str, Any]]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    confirmed_step: Mapped[int] = mapped_column(Integer, default=0)
    # Written every few seconds by the process executing the run (PostgreSQL replicas).
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The project it belongs to: its incident's, or the one it was asked in.
    project: Mapped[str] = mapped_column(String(64), default=DEFAULT_PROJECT)


class RunStepOutputRow(Base):
    """The whole (redacted, size-capped) output of one step of a run: `run show R-12 2`."""

    __tablename__ = "runbook_step_outputs"
    __table_args__ = (
        UniqueConstraint("run_id", "phase", "number", name="uq_runbook_step_outputs_step"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Id, ForeignKey("runbook_runs.id"))
    phase: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    output: Mapped[str] = mapped_column(Text)
    lines: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ChatMessageRow(Base):
    """A message Lookout keeps current other than an incident's root (a run's progress)."""

    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("kind", "key", "platform", name="uq_chat_messages_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(255))
    thread_id: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255))
    rendered_revision: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Why the platform refused the full message for good; a compact one is shown instead.
    degraded: Mapped[str | None] = mapped_column(Text, default=None)
    # Delivery stopped for good at this revision of its source (a permanent error, or too
    # many failed attempts); a later change of the source gets one more try.
    gave_up_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BlastTrackerRow(Base):
    """A live blast-radius message on an incident: what it last showed, and its revision."""

    __tablename__ = "blast_trackers"
    __table_args__ = (
        UniqueConstraint("incident_id", "service", "platform", name="uq_blast_trackers_key"),
        Index("ix_blast_trackers_live", "live"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    service: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(32))
    # Where it was asked; the message goes to the incident's thread when there is one.
    channel: Mapped[str] = mapped_column(String(255))
    thread_id: Mapped[str | None] = mapped_column(String(255))
    requested_by: Mapped[str] = mapped_column(String(255))
    # `skills.blast_tracker.snapshot`: the dependents' statuses, propagation and summary.
    snapshot: Mapped[dict[str, Any]]
    # Bumped when the snapshot changes; the notifier edits the message when it is behind.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # False once the incident resolved and the final version was recorded.
    live: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChangeRow(Base):
    """A change event (deploy, config push, flag, scaling, manual step), one per source id."""

    __tablename__ = "changes"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_changes_event_id"),
        Index("ix_changes_landed_at", "landed_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    services: Mapped[list[str]] = mapped_column(JSON)
    environment: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(255))
    previous_version: Mapped[str | None] = mapped_column(String(255))
    author: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # finished_at, else started_at: what time windows select on.
    landed_at: Mapped[datetime]
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The project of the change's service (`core.projects`).
    project: Mapped[str] = mapped_column(String(64), default=DEFAULT_PROJECT)


class IncidentContextRow(Base):
    """What `correlate` found for an incident at one moment (Prometheus and Loki forget)."""

    __tablename__ = "incident_contexts"
    __table_args__ = (Index("ix_incident_contexts_incident_id", "incident_id", "taken_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    taken_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(255))
    # `skills.commands.correlate` snapshot: changes, metrics, log patterns, health, scores.
    snapshot: Mapped[dict[str, Any]]


# --- knowledge: feedback, "Seen before?" hints, written answers ---
class FeedbackRow(Base):
    """👍, 👎 or "This fixed it" on a suggestion or an answer, for a kind of incident.

    `dedup_key` makes a click idempotent: a person's rating of one target in one incident
    (or answer) is replaced by their next one; "fixed" counts once per incident and target.
    """

    __tablename__ = "knowledge_feedback"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_knowledge_feedback_dedup"),
        Index("ix_knowledge_feedback_kind_target", "incident_kind", "target"),
        Index("ix_knowledge_feedback_at", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(800))
    at: Mapped[datetime]
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))
    user_name: Mapped[str] = mapped_column(String(255))
    incident_id: Mapped[int | None] = mapped_column(Id, ForeignKey("incidents.id"))
    # What kind of incident it was (`knowledge.kinds.incident_kind`); "" for a free question.
    incident_kind: Mapped[str] = mapped_column(String(255))
    # What was rated: `runbook:<name>`, `incident:<id>` (a past incident and its fix),
    # `answer:<id>` (an `ask` or `explain` answer).
    target: Mapped[str] = mapped_column(String(255))
    vote: Mapped[str] = mapped_column(String(16))  # up | down | fixed
    detail: Mapped[dict[str, Any]]


class KnowledgeHintRow(Base):
    """Whether a new incident was seen before: checked once; posted in its thread if so."""

    __tablename__ = "knowledge_hints"
    __table_args__ = (UniqueConstraint("incident_id", name="uq_knowledge_hints_incident"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    matched: Mapped[bool] = mapped_column(default=False)
    # `knowledge.seen_before.Hint.record()`: the strong matches and why.
    snapshot: Mapped[dict[str, Any]]
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class KnowledgeAnswerRow(Base):
    """An `ask` or `explain` answer: the evidence it rests on, the deterministic answer and,
    with an LLM configured, the written one (filled in after the reply, then posted)."""

    __tablename__ = "knowledge_answers"
    __table_args__ = (Index("ix_knowledge_answers_status", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    skill: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Id, ForeignKey("incidents.id"))
    incident_kind: Mapped[str] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    # pending (an LLM is writing it) | answered | failed (the LLM did not answer) | evidence
    # (deterministic only: no LLM configured)
    status: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]
    requested_by: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(255))
    thread: Mapped[str | None] = mapped_column(String(255))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


# --- end knowledge ---
class ScheduledRunRow(Base):
    """One run of a scheduled job at one scheduled time: whoever inserts the row first runs it
    (the unique key is what keeps replicas from running a job twice). A report's answer is
    kept here for the notifier to post."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (
        UniqueConstraint("job", "scheduled_for", name="uq_scheduled_runs_job_time"),
        Index("ix_scheduled_runs_claimed_at", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(191))
    scheduled_for: Mapped[datetime]
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    # A report: where it goes (`channels` per platform, else `channel`) and what it says
    # (`skills.reply_codec`); None for jobs that post nothing.
    channel: Mapped[str | None] = mapped_column(String(255))
    channels: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reply: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    revision: Mapped[int] = mapped_column(Integer, default=1)


# --- escalation: policies climbing per episode, the pages they send, SLA breaches ---
class EscalationRow(Base):
    """One episode's escalation: the policy it follows, the next level and when it is due.

    `next_at` is the timer: every replica's escalation pass looks for rows due, and the
    first to lock one fires its level (the pages it creates have unique keys besides, so a
    level is paged once). `status`: active, deferred (waiting for business hours), snoozed,
    acknowledged, resolved, exhausted, post (only posts), none (no policy matched)."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("incident_id", "episode", name="uq_escalations_episode"),
        Index("ix_escalations_due", "status", "next_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    episode: Mapped[int] = mapped_column(Integer)
    policy: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    # The next level to fire (index into the policy's levels) and pass over them (0 first).
    level: Mapped[int] = mapped_column(Integer, default=0)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    # The highest level fired so far (1-based, 0 = none) and who it notified, for the card.
    reached: Mapped[int] = mapped_column(Integer, default=0)
    paged: Mapped[dict[str, Any]]
    # Levels are due at base_at + period × cycle + level.after.
    base_at: Mapped[datetime | None]
    next_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    snoozed_until: Mapped[datetime | None] = mapped_column(default=None)
    snoozed_by: Mapped[str | None] = mapped_column(String(255), default=None)
    # Alertmanager silence ids created by the snooze.
    silences: Mapped[dict[str, Any]]
    # What PagerDuty knows of this episode: triggered, acknowledged, resolved (None: nothing).
    pagerduty: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PageRow(Base):
    """One notification to send (an outbox row): a level's target, an SLA breach, or a
    PagerDuty acknowledge/resolve. `key` is unique, so a level fired twice pages once.
    `status`: pending, sent, failed (retries spent, or refused for good), cancelled (the
    incident was taken before it went out), folded (over the rate limit)."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("key", name="uq_pages_key"),
        Index("ix_pages_due", "status", "next_attempt_at"),
        Index("ix_pages_kind_created", "kind", "created_at"),
        Index("ix_pages_incident", "incident_id", "episode"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    episode: Mapped[int] = mapped_column(Integer)
    escalation_id: Mapped[int | None] = mapped_column(Id, ForeignKey("escalations.id"))
    level: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(255))
    person: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    failed_over: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # What the message says besides the incident (a breach's reason, …), and what the
    # receiver gave back (chat message ids, PagerDuty's dedup key).
    payload: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]


class SlaBreachRow(Base):
    """An episode that missed its time-to-acknowledge or time-to-resolve target, and why."""

    __tablename__ = "sla_breaches"
    __table_args__ = (
        UniqueConstraint("incident_id", "episode", "clock", name="uq_sla_breaches_clock"),
        Index("ix_sla_breaches_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    episode: Mapped[int] = mapped_column(Integer)
    clock: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime]
    breached_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)


# --- end escalation ---
class ContextPostRow(Base):
    """Whether a new incident's context was checked for something worth posting unasked:
    once per incident; `posted` when it was, with the stored snapshot (`context_id`) the
    message shows and why (`reasons`)."""

    __tablename__ = "context_posts"
    __table_args__ = (UniqueConstraint("incident_id", name="uq_context_posts_incident"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    context_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("incident_contexts.id"), default=None
    )
    posted: Mapped[bool] = mapped_column(default=False)
    reasons: Mapped[dict[str, Any]]
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class PolicyFiringRow(Base):
    """A policy rule that fired on an incident: at most once per incident episode and rule
    (the unique key, so replicas evaluating at once fire it once). `message` is the line
    posted in the incident's thread, kept current like other tracked messages."""

    __tablename__ = "policy_firings"
    __table_args__ = (
        UniqueConstraint("incident_id", "episode", "rule", name="uq_policy_firings_rule"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"))
    episode: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    # Why it fired: the condition and each comparison it made, with the facts read.
    detail: Mapped[dict[str, Any]]
    message: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    fired_at: Mapped[datetime]
