"""Inbound change events: the generic JSON body, GitHub webhooks and Argo CD notifications.

Each parser turns one delivery into a `core.changes.ChangeEvent`, raises `ValueError` with a
reason a sender can act on, or — for a GitHub event that is not a change (`ping`, `push`) —
returns None. Ids are the sources' own, so a re-delivery, or a later status of the same
deployment, is recognised as the same change:

* generic: the body's `id`;
* GitHub `deployment` / `deployment_status`: `github:<owner/repo>:deployment:<id>`;
  `workflow_run`: `github:<owner/repo>:run:<id>:<attempt>`;
* Argo CD: `argocd:<application>@<revision>`.

GitHub signs deliveries with `X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of the raw body>`
(docs.github.com, "Validating webhook deliveries"); `github_signature_valid` checks it in
constant time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.changes import ChangeEvent, ChangeKind, ChangeStatus, check_service_name


class ChangeBody(BaseModel):
    """`POST /webhooks/changes`: any deploy tool, flag service or script can send this."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    kind: ChangeKind
    services: list[str] = Field(min_length=1, max_length=50)
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    status: ChangeStatus = ChangeStatus.SUCCEEDED
    environment: str | None = Field(default=None, max_length=64)
    version: str | None = Field(default=None, max_length=255)
    previous_version: str | None = Field(default=None, max_length=255)
    author: str | None = Field(default=None, max_length=255)
    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=4000)
    labels: dict[str, str] = Field(default_factory=dict)
    # The project the change belongs to, when not its service's (kept as the `project` label).
    project: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _one_service(cls, data: Any) -> Any:
        """`"service": "checkout"` is accepted for a change to one service."""
        if (
            isinstance(data, dict)
            and "services" not in data
            and isinstance(data.get("service"), str)
        ):
            return {**data, "services": [data["service"]]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> ChangeBody:
        if self.finished_at is not None and self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        self.services = [check_service_name(name) for name in self.services]
        return self


def parse_change(document: Mapping[str, Any], *, source: str = "webhook") -> ChangeEvent:
    """The generic body; raises `pydantic.ValidationError` (a 422 with the fields' reasons)."""
    body = ChangeBody.model_validate(document)
    return ChangeEvent(
        id=body.id,
        kind=body.kind,
        services=tuple(dict.fromkeys(body.services)),
        started_at=body.started_at,
        finished_at=body.finished_at,
        status=body.status,
        source=source,
        environment=body.environment,
        version=body.version,
        previous_version=body.previous_version,
        author=body.author,
        url=body.url,
        description=body.description,
        labels={**body.labels, "project": body.project} if body.project else body.labels,
    )


# ---------------------------------------------------------------- GitHub


class GitHubRules(BaseModel):
    """`changes.github` in LOOKOUT_CONFIG: which services a repository's changes touch
    (default: the repository's name) and which workflow runs are changes (globs on the
    workflow's name or path; default: every run)."""

    model_config = ConfigDict(extra="forbid")

    repositories: dict[str, list[str]] = Field(
        default_factory=dict, description="`owner/repo` or `repo` → services it deploys"
    )
    workflows: list[str] = Field(
        default_factory=list, description="globs: `deploy*`, `.github/workflows/release.yml`"
    )


def github_signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is `sha256=` + the HMAC-SHA256 of `body` keyed with `secret`.
    An empty secret matches nothing: anyone can sign with it."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # As bytes: compare_digest refuses str with characters past ASCII, which a header can hold.
    given = header[len("sha256=") :].strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(given, expected)


_DEPLOY_STATES = {
    "success": ChangeStatus.SUCCEEDED,
    "inactive": ChangeStatus.SUCCEEDED,  # superseded by a later deployment
    "failure": ChangeStatus.FAILED,
    "error": ChangeStatus.FAILED,
}
_RUN_CONCLUSIONS = {"success": ChangeStatus.SUCCEEDED, "neutral": ChangeStatus.SUCCEEDED}
GITHUB_EVENTS = ("deployment", "deployment_status", "workflow_run")


def parse_github(
    event: str, document: Mapping[str, Any], rules: GitHubRules | None = None
) -> ChangeEvent | None:
    """A GitHub delivery (`X-GitHub-Event` names the event). None for an event that is not
    a change, or a workflow run that `rules.workflows` leaves out."""
    rules = rules or GitHubRules()
    if event not in GITHUB_EVENTS:
        return None
    repository = _object(document, "repository")
    full_name = _text(repository, "full_name") or _text(repository, "name")
    if not full_name:
        raise ValueError("repository.full_name is missing")
    if event == "workflow_run":
        return _workflow_run(document, full_name, repository, rules)
    return _deployment(event, document, full_name, repository, rules)


def _deployment(
    event: str,
    document: Mapping[str, Any],
    full_name: str,
    repository: Mapping[str, Any],
    rules: GitHubRules,
) -> ChangeEvent:
    deployment = _object(document, "deployment")
    status = document.get("deployment_status") if event == "deployment_status" else None
    if event == "deployment_status" and not isinstance(status, dict):
        raise ValueError("deployment_status is missing")
    started = _time(deployment, "created_at", "deployment.created_at")
    state = _text(status, "state") if status else None
    finished = None
    change_status = ChangeStatus.IN_PROGRESS
    if state in _DEPLOY_STATES:
        change_status = _DEPLOY_STATES[state]
        finished = _time(status or {}, "created_at", "deployment_status.created_at")
    payload = _object(deployment, "payload", required=False)
    sha = _text(deployment, "sha")
    ref = _text(deployment, "ref")
    return ChangeEvent(
        id=f"github:{full_name}:deployment:{_identity(deployment, 'deployment')}",
        kind=ChangeKind.DEPLOYMENT,
        services=_services(payload, full_name, repository, rules),
        started_at=started,
        finished_at=max(finished, started) if finished else None,
        status=change_status,
        source="github",
        environment=_text(deployment, "environment") or _text(status, "environment"),
        version=_version(ref, sha),
        author=_text(_object(deployment, "creator", required=False), "login"),
        url=_text(status, "target_url")
        or _text(status, "environment_url")
        or _text(repository, "html_url"),
        description=_text(deployment, "description") or _text(status, "description"),
        labels={
            key: value
            for key, value in (("repository", full_name), ("ref", ref), ("sha", sha))
            if value
        },
    )


def _workflow_run(
    document: Mapping[str, Any],
    full_name: str,
    repository: Mapping[str, Any],
    rules: GitHubRules,
) -> ChangeEvent | None:
    run = _object(document, "workflow_run")
    name = _text(run, "name") or _text(_object(document, "workflow", required=False), "name")
    path = _text(run, "path")
    if rules.workflows and not any(
        fnmatch.fnmatch(candidate, pattern)
        for pattern in rules.workflows
        for candidate in (name, path)
        if candidate
    ):
        return None
    started = _time(run, "run_started_at", "workflow_run.run_started_at", fallback="created_at")
    finished = None
    change_status = ChangeStatus.IN_PROGRESS
    if _text(run, "status") == "completed":
        conclusion = _text(run, "conclusion") or ""
        change_status = _RUN_CONCLUSIONS.get(conclusion, ChangeStatus.FAILED)
        finished = _time(run, "updated_at", "workflow_run.updated_at")
    actor = _object(run, "actor", required=False) or _object(document, "sender", required=False)
    sha = _text(run, "head_sha")
    attempt = run.get("run_attempt") or 1
    return ChangeEvent(
        id=f"github:{full_name}:run:{_identity(run, 'workflow_run')}:{attempt}",
        kind=ChangeKind.DEPLOYMENT,
        services=_services({}, full_name, repository, rules),
        started_at=started,
        finished_at=max(finished, started) if finished else None,
        status=change_status,
        source="github",
        version=_version(_text(run, "head_branch"), sha),
        author=_text(actor, "login"),
        url=_text(run, "html_url"),
        description=_text(run, "display_title") or name or path,
        labels={
            key: value
            for key, value in (
                ("repository", full_name),
                ("workflow", name or path),
                ("branch", _text(run, "head_branch")),
                ("sha", sha),
                ("event", _text(run, "event")),
            )
            if value
        },
    )


def _services(
    payload: Mapping[str, Any],
    full_name: str,
    repository: Mapping[str, Any],
    rules: GitHubRules,
) -> tuple[str, ...]:
    """The deployment payload's `services`/`service`, else the configured mapping, else the
    repository's name."""
    named = payload.get("services") or payload.get("service")
    if isinstance(named, str):
        named = [named]
    if isinstance(named, list) and named:
        return tuple(check_service_name(str(name)) for name in named)
    short = _text(repository, "name") or full_name.rsplit("/", 1)[-1]
    mapped = rules.repositories.get(full_name) or rules.repositories.get(short)
    if mapped:
        return tuple(check_service_name(name) for name in mapped)
    return (check_service_name(short),)


def _version(ref: str | None, sha: str | None) -> str | None:
    """A tag such as `v2.3.1` when the ref is one, else the short commit."""
    if ref and (ref[:1].isdigit() or (ref[:1] in "vV" and ref[1:2].isdigit())):
        return ref
    return sha[:7] if sha else ref


# ---------------------------------------------------------------- Argo CD

_PHASES = {
    "Running": ChangeStatus.IN_PROGRESS,
    "Terminating": ChangeStatus.IN_PROGRESS,
    "Succeeded": ChangeStatus.SUCCEEDED,
    "Failed": ChangeStatus.FAILED,
    "Error": ChangeStatus.FAILED,
}
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Rollout", "CronJob", "Job"}
SERVICES_ANNOTATION = "lookout.io/services"


def parse_argocd(document: Mapping[str, Any], *, now: datetime) -> ChangeEvent:
    """An Argo CD notification rendered by Lookout's template (`{"app": {{toJson .app}},
    "argocdUrl": "{{.context.argocdUrl}}"}`), a bare Application, or the docs' `{{toJson
    .app.status.operationState.syncResult}}` body (which carries no times: `now` stands in)."""
    app = document.get("app", document)
    if not isinstance(app, dict):
        raise ValueError("`app` must be an Argo CD Application object")
    if "metadata" in app or "status" in app:
        return _application(app, document, now)
    if isinstance(document.get("resources"), list) and _text(document, "revision"):
        return _sync_result(document, now)
    raise ValueError(
        "not an Argo CD notification: expected an Application (`app`, or `metadata` and "
        "`status`) or a syncResult (`resources` and `revision`)"
    )


def _application(app: Mapping[str, Any], document: Mapping[str, Any], now: datetime) -> ChangeEvent:
    metadata = _object(app, "metadata")
    name = _text(metadata, "name")
    if not name:
        raise ValueError("app.metadata.name is missing")
    status = _object(app, "status", required=False)
    operation = _object(status, "operationState", required=False)
    sync_result = _object(operation, "syncResult", required=False)
    sync = _object(_object(operation, "operation", required=False), "sync", required=False)
    revision = (
        _text(sync_result, "revision")
        or _text(sync, "revision")
        or _text(_object(status, "sync", required=False), "revision")
    )
    if not revision:
        raise ValueError("no revision: app.status.operationState.syncResult.revision is missing")
    started = _time(operation, "startedAt", "operationState.startedAt") if operation else now
    finished = _maybe_time(operation, "finishedAt", "operationState.finishedAt")
    phase = _text(operation, "phase") or "Succeeded"
    if phase not in _PHASES:
        raise ValueError(f"unknown operation phase {phase!r}")
    labels = _object(metadata, "labels", required=False)
    annotations = _object(metadata, "annotations", required=False)
    listed = _text(annotations, SERVICES_ANNOTATION)
    services = (
        tuple(check_service_name(part) for part in listed.split(",") if part.strip())
        if listed
        else (check_service_name(_text(labels, "app.kubernetes.io/name") or name),)
    )
    initiated = _object(
        _object(operation, "operation", required=False), "initiatedBy", required=False
    )
    author = _text(initiated, "username") or (
        "automated sync" if initiated.get("automated") else None
    )
    images = _object(status, "summary", required=False).get("images") or []
    base_url = _text(document, "argocdUrl")
    destination = _object(_object(app, "spec", required=False), "destination", required=False)
    return ChangeEvent(
        id=f"argocd:{name}@{revision}",
        kind=ChangeKind.DEPLOYMENT,
        services=services,
        started_at=started,
        finished_at=max(finished, started) if finished else None,
        status=_PHASES[phase],
        source="argocd",
        environment=_text(labels, "environment") or _text(labels, "env"),
        version=_image_tag(images) or revision[:7],
        author=author,
        url=f"{base_url.rstrip('/')}/applications/{name}" if base_url else None,
        description=_text(operation, "message"),
        labels={
            key: value
            for key, value in (
                ("application", name),
                ("revision", revision),
                ("namespace", _text(destination, "namespace")),
                ("health", _text(_object(status, "health", required=False), "status")),
            )
            if value
        },
    )


def _sync_result(document: Mapping[str, Any], now: datetime) -> ChangeEvent:
    revision = _text(document, "revision") or ""
    # Fields are read by their documented types only: anything else is not a workload.
    workloads = [
        item
        for item in document["resources"]
        if isinstance(item, dict) and _text(item, "kind") in _WORKLOADS and _text(item, "name")
    ]
    if not workloads:
        raise ValueError("the syncResult names no workload (Deployment, StatefulSet, …)")
    names = [_text(item, "name") or "" for item in workloads]
    images = [
        image
        for item in workloads
        if isinstance(item.get("images"), list)
        for image in item["images"]
    ]
    return ChangeEvent(
        id=f"argocd:{'+'.join(sorted(names))}@{revision}",
        kind=ChangeKind.DEPLOYMENT,
        services=tuple(dict.fromkeys(check_service_name(name) for name in names)),
        started_at=now,
        source="argocd",
        version=_image_tag(images) or revision[:7],
        labels={"revision": revision},
    )


def _image_tag(images: Any) -> str | None:
    """`1.27.1` of `nginx:1.27.1`; None without a tagged image."""
    for image in images if isinstance(images, list) else []:
        if isinstance(image, str) and ":" in image.rsplit("/", 1)[-1]:
            return image.rsplit(":", 1)[1]
    return None


# ---------------------------------------------------------------- helpers


def _object(
    document: Mapping[str, Any] | None, key: str, *, required: bool = True
) -> dict[str, Any]:
    value = (document or {}).get(key)
    if isinstance(value, dict):
        return value
    if required:
        raise ValueError(f"`{key}` is missing or not an object")
    return {}


def _text(document: Mapping[str, Any] | None, key: str) -> str | None:
    value = (document or {}).get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _identity(document: Mapping[str, Any], what: str) -> str:
    value = document.get("id")
    if isinstance(value, int | str) and str(value):
        return str(value)
    raise ValueError(f"{what}.id is missing")


class _Stamp(BaseModel):
    at: AwareDatetime


def _maybe_time(document: Mapping[str, Any], key: str, where: str) -> datetime | None:
    return _time(document, key, where) if document.get(key) else None


def _time(
    document: Mapping[str, Any], key: str, where: str, *, fallback: str | None = None
) -> datetime:
    value = document.get(key) or (document.get(fallback) if fallback else None)
    try:
        return _Stamp.model_validate({"at": value}).at
    except ValidationError:
        raise ValueError(f"{where} is not an RFC 3339 time with a zone: {value!r}") from None
