"""Postmortems: Markdown files in a configured folder, split into sections for the index.

Split first by headings (`MarkdownHeaderTextSplitter`), then long sections into overlapping
pieces (`RecursiveCharacterTextSplitter`), both from langchain-text-splitters; each piece
keeps its heading path, so a citation can say which part of which postmortem it is.
Incident ids written in a postmortem (`INC-231`) link it to those incidents.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from knowledge.documents import Document, to_meta

CHUNK_CHARACTERS = 900
OVERLAP = 120
MAX_FILE_BYTES = 1_000_000
HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
_INCIDENT_REF = re.compile(r"\bINC-(\d+)\b")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class PostmortemFile:
    path: Path
    slug: str
    digest: str
    text: str


def slug_of(path: Path) -> str:
    return _SLUG.sub("-", path.stem.lower()).strip("-") or "postmortem"


def read_folder(folder: Path) -> list[PostmortemFile]:
    """Every `*.md` under `folder` (recursively), skipping unreadable or oversized files."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*.md")):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        found.append(
            PostmortemFile(
                path=path,
                slug=slug_of(path),
                digest=hashlib.sha256(data).hexdigest()[:16],
                text=data.decode("utf-8", errors="replace"),
            )
        )
    return found


def split_postmortem(file: PostmortemFile) -> list[Document]:
    """The file's sections as documents `postmortem:<slug>#<n>`, in reading order."""
    # Imported here: langchain is only loaded where a postmortem folder is configured.
    from langchain_text_splitters import (
        MarkdownHeaderTextSplitter,
        RecursiveCharacterTextSplitter,
    )

    title_match = re.search(r"^#\s+(.+)$", file.text, flags=re.MULTILINE)
    title = title_match.group(1).strip() if title_match else file.path.stem
    incidents = ",".join(dict.fromkeys(f"INC-{n}" for n in _INCIDENT_REF.findall(file.text)))
    sections = MarkdownHeaderTextSplitter(HEADERS, strip_headers=False).split_text(file.text)
    pieces = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_CHARACTERS, chunk_overlap=OVERLAP
    ).split_documents(sections)
    documents = []
    for number, piece in enumerate(pieces):
        heading = " › ".join(
            str(piece.metadata[key])
            for key in ("h1", "h2", "h3")
            if piece.metadata.get(key) and piece.metadata[key] != title
        )
        body = piece.page_content.strip()
        if not body:
            continue
        documents.append(
            Document(
                id=f"postmortem:{file.slug}#{number}",
                kind="postmortem",
                title=f"{title} — {heading}" if heading else title,
                # The postmortem's title leads every piece, so each stands on its own.
                text=f"{title}\n{body}" if not body.startswith(f"# {title}") else body,
                meta=to_meta(
                    {
                        "slug": file.slug,
                        "file": file.path.name,
                        "section": heading,
                        "incidents": incidents,
                        "file_digest": file.digest,
                    }
                ),
            )
        )
    return documents
