"""What the index holds: documents about resolved incidents, postmortems and runbooks, each
with the citation an answer uses to point at it ([INC-231], [runbook:restart-service],
[postmortem:2026-03-orders-db])."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from core.projects import DEFAULT_PROJECT

DocumentKind = Literal["incident", "postmortem", "runbook"]
# The `project` of a document everyone may see (a runbook no project claims).
EVERYONE = "*"
PROJECT_META = "project"
KINDS: tuple[DocumentKind, ...] = ("incident", "postmortem", "runbook")
MetaValue = str | int | float | bool


@dataclass(frozen=True)
class Document:
    """One searchable thing. `id` is stable (`incident:231`, `runbook:restart-service`,
    `postmortem:<file stem>#<chunk>`); `text` is what is embedded and matched; `meta` holds
    scalar facts the answers show (Chroma stores only scalars)."""

    id: str
    kind: DocumentKind
    title: str
    text: str
    meta: Mapping[str, MetaValue] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Changes when anything indexed about the document changes (idempotent indexing)."""
        body = json.dumps(
            [self.kind, self.title, self.text, sorted(self.meta.items())], ensure_ascii=False
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    @property
    def citation(self) -> str:
        """How an answer cites it, without brackets: `INC-231`, `runbook:x`, `postmortem:y`."""
        if self.kind == "incident":
            return f"INC-{self.meta.get('incident_id', self.id.partition(':')[2])}"
        if self.kind == "runbook":
            return f"runbook:{self.meta.get('name', self.id.partition(':')[2])}"
        return f"postmortem:{self.meta.get('slug', self.id.partition(':')[2])}"

    def text_meta(self, key: str) -> str:
        value = self.meta.get(key)
        return str(value) if value not in (None, "") else ""

    def list_meta(self, key: str) -> list[str]:
        value = self.text_meta(key)
        return [part for part in value.split(",") if part] if value else []

    def excerpt(self, limit: int = 240) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


_LABEL = re.compile(
    r"^(Service|Services|Alerts|Symptoms|Fixed by|Runbooks|Notes|Tags|"
    r"Suggested for alerts|Probable root cause): ",
    re.M,
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def prose(text: str) -> str:
    """Text as a sentence model reads best: no field labels, identifiers in words
    (`PostgresConnectionsExhausted` → `Postgres Connections Exhausted`, `high_memory_load`
    → `high memory load`). Used for embeddings only; BM25 keeps the identifiers."""
    text = _LABEL.sub("", text)
    text = _CAMEL.sub(" ", text)
    return re.sub(r"(?<=\w)[_](?=\w)", " ", text)


# "checkout: HighErrorRate and 2 other alerts": the titles' own wording.
_OTHERS = re.compile(r"\band \d+ other alerts?\b")


def without_layout(text: str) -> str:
    """Text without the documents' field labels ("Service: ", "Alerts: ") and titles'
    "and 2 other alerts": words every document has say nothing about one of them."""
    return _OTHERS.sub("", _LABEL.sub("", text))


def lexical_text(document: Document) -> str:
    """What BM25 indexes for a document: its title and text without layout words,
    identifiers as written."""
    return without_layout(f"{document.title}\n{document.text}")


def embedding_text(document: Document) -> str:
    """What the model embeds for a document: its title and text, in prose."""
    return prose(f"{document.title}\n{document.text}")


def owner_of(document: Document, default_project: str = DEFAULT_PROJECT) -> str:
    """The project a document belongs to (its `project` meta), `*` for everyone's. One
    indexed before projects existed has none: a runbook is everyone's, anything else the
    default project's."""
    named = document.text_meta(PROJECT_META)
    if named:
        return named
    return EVERYONE if document.kind == "runbook" else default_project


def incident_doc_id(incident_id: int) -> str:
    return f"incident:{incident_id}"


def runbook_document(
    *,
    name: str,
    title: str,
    description: str,
    tags: list[str],
    alerts: list[str],
    services: list[str],
    risk: str,
    project: str | None = None,
) -> Document:
    """A runbook as the index sees it: what it does and when it is suggested. `project`:
    the one project whose people may find it; None: everyone's."""
    lines = [title, description.strip()]
    if alerts:
        lines.append("Suggested for alerts: " + ", ".join(alerts))
    if services:
        lines.append("Services: " + ", ".join(services))
    if tags:
        lines.append("Tags: " + ", ".join(tags))
    return Document(
        id=f"runbook:{name}",
        kind="runbook",
        title=title,
        text="\n".join(line for line in lines if line),
        meta={
            "name": name,
            "risk": risk,
            "alerts": ",".join(alerts),
            "services": ",".join(services),
            "tags": ",".join(tags),
            PROJECT_META: project or EVERYONE,
        },
    )


def to_meta(values: Mapping[str, MetaValue | None]) -> dict[str, MetaValue]:
    """Drop empty values: Chroma keeps scalars only, and absent reads better than None."""
    return {key: value for key, value in values.items() if value is not None and value != ""}
