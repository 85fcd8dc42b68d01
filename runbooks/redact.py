"""Secrets out of everything a run shows: step output, errors, the rendered plan.

Step output is posted to a chat channel, so it is treated like a log line in a public place:
known secret values (secret parameters, secret-looking environment values) are replaced, and
so is anything shaped like a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mask ordinary words and digits everywhere
SECRET_ENV_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|PASS|AUTH|KEY|CREDENTIAL)", re.I)
PATTERNS = (
    # key=value / key: value for names that mean a secret; the key stays readable.
    r"(?i)(?P<keep>\b[\w.-]*(?:password|passwd|secret|token|api[_-]?key)[\w.-]*"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+",
    r"(?i)(?P<keep>\bauthorization:\s*(?:bearer|basic|token)?\s*)\S+",
    r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}",
    r"(?P<keep>://[^/\s:@]+:)[^/\s@]+(?=@)",  # URL credentials
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
    r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
    r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+",  # JWT
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )
        self._patterns = [re.compile(p) for p in (*PATTERNS, *patterns)]

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        redactor = Redactor(secrets=[*self._secrets, *secrets])
        redactor._patterns = self._patterns
        return redactor

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in self._patterns:
            text = pattern.sub(_mask_keeping_prefix, text)
        return text


def _mask_keeping_prefix(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep")
    return f"{keep}{MASK}" if keep else MASK


def secret_env_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names say they hold a secret."""
    return [value for name, value in env.items() if SECRET_ENV_NAME.search(name)]


class OutputBuffer:
    """Keeps the first `limit` bytes of a stream and counts the rest, so a chatty program can
    neither fill memory nor flood a chat message."""

    # Kept beyond the limit so a secret cut by the limit is still whole when redacted.
    SLACK = 1024

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._chunks: list[bytes] = []
        self._kept = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit + self.SLACK - self._kept
        if room > 0:
            self._chunks.append(chunk[:room])
            self._kept += min(room, len(chunk))

    def text(self, redact: Redactor) -> str:
        text = redact(b"".join(self._chunks).decode("utf-8", errors="replace"))
        encoded = text.encode("utf-8")
        if self.total <= self.limit and len(encoded) <= self.limit:
            return text
        cut = encoded[: self.limit].decode("utf-8", errors="ignore")
        return f"{cut}\n… (output truncated: {self.total} bytes, {self.limit} kept)"


@dataclass(frozen=True)
class Excerpt:
    """A few lines of a step's output and how many were left out (`hidden`), so a message
    can say "… 2 more lines" instead of silently showing part of a list."""

    lines: tuple[str, ...]
    hidden: int
    from_end: bool  # the last lines (a failure's), else the first

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def excerpt(text: str, *, lines: int = 3, chars: int = 300, tail: bool = False) -> Excerpt:
    """The first (or, with `tail`, the last) few non-empty lines of `text`, each at most
    `chars` long and together about `chars`; everything else is counted in `hidden`."""
    every = [line.rstrip() for line in text.splitlines() if line.strip()]
    ordered = list(reversed(every)) if tail else every
    shown: list[str] = []
    used = 0
    for line in ordered[:lines]:
        if len(line) > chars:
            line = line[: chars - 1] + "…"
        if shown and used + len(line) > chars:
            break
        shown.append(line)
        used += len(line)
    if tail:
        shown.reverse()
    return Excerpt(tuple(shown), len(every) - len(shown), tail)
