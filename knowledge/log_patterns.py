"""Log templates: many lines become a few patterns with counts, first seen and an example.

Mining is Drain (He, Zhu, Zheng and Lyu, "Drain: An Online Log Parsing Approach with Fixed
Depth Tree", ICWS 2017), as the drain3 library implements it, with two generic steps around
it that need no per-system regexes:

1. **Before**: a token that carries a value — digits with a separator (`10.0.0.1:8080`,
   `blk_-1608`, `/v2/9f3a…/servers`), more digits than letters, a hex id, or a day or month
   name of a timestamp — becomes the placeholder `<V>` (a `key=value` token keeps its
   `key=`). Unlike Drain's `<*>`, the
   placeholder counts as an equal token in Drain's similarity, so lines that differ only in
   values land in one cluster; a word with a digit (`SOCKS5`, `ext4`) stays a word.
2. **After**: a parameter position that only ever holds a few plain words (`GET`/`POST`,
   `Started`/`Paused`) is an event's verb, not a value, and splits the cluster again; then
   templates are compared with runs of parameters collapsed into one and parentheticals
   that restate a value (`(1.16 KB)`) left out, and clusters whose templates are then equal
   are merged (a value that spans one token in one line and two in another no longer
   splits a pattern).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from core.log_lines import LogLine, first_line, redact

PLACEHOLDER = "<V>"
SIMILARITY = 0.7
_DIGIT = re.compile(r"\d")
_SEPARATOR = re.compile(r"[.:/_\-@#]")
_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]{6,}")
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w.-]*=|[A-Za-z_][\w-]*:)(.+)$")
_LEAD = re.compile(r"^[\[({\"']*")
_TRAIL = re.compile(r"[\])}\"',;.:]*$")
_VARIABLE = re.compile(r"<V>|<\*>")
_WORD = re.compile(r"[\"'(\[]?[A-Za-z][A-Za-z0-9]*[\"')\],:;.]?")
_FEW_WORDS = 4
_WEEKDAYS = "mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday"
_MONTHS = (
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december"
)
_CALENDAR = frozenset(f"{_WEEKDAYS} {_MONTHS}".split())


def _is_value(token: str) -> bool:
    core = token.strip("[](){}\"',;")
    if core.lower().rstrip(".:") in _CALENDAR:
        return True  # part of a timestamp
    if not _DIGIT.search(core):
        return False
    digits = sum(char.isdigit() for char in core)
    letters = sum(char.isalpha() for char in core)
    return (
        letters == 0
        or digits >= letters
        or bool(_SEPARATOR.search(core))
        or bool(_HEX.fullmatch(core))
    )


def _mask_token(token: str) -> str:
    pair = _KEY_VALUE.match(token)
    if pair and not _DIGIT.search(pair.group(1)) and _is_value(pair.group(2)):
        return pair.group(1) + PLACEHOLDER
    if not _is_value(token):
        return token
    lead = _LEAD.match(token)
    trail = _TRAIL.search(token)
    return (lead.group(0) if lead else "") + PLACEHOLDER + (trail.group(0) if trail else "")


def mask(text: str) -> str:
    """The line with its value tokens replaced by `<V>` (step 1 above)."""
    return " ".join(_mask_token(token) for token in text.split())


def _without_annotations(tokens: list[str]) -> list[str]:
    """Drop a parenthetical that starts with a parameter (`(<*> KB)`, `(<*>)`): it restates
    the value before it in other units, and is there only for some values."""
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("(") and _VARIABLE.match(token[1:]):
            end = next(
                (i for i in range(index, min(index + 3, len(tokens))) if ")" in tokens[i]), None
            )
            if end is not None:
                index = end + 1
                continue
        kept.append(token)
        index += 1
    return kept


def canonical(template: str) -> str:
    """A template with every parameter as `<*>` and runs of them collapsed (step 2)."""
    out: list[str] = []
    for token in _without_annotations(template.split()):
        if _VARIABLE.search(token) and not _VARIABLE.sub("", token).strip("[](){}:,;=.'\""):
            token = "<*>"
        token = _VARIABLE.sub("<*>", token)
        if token == "<*>" and out and out[-1] == "<*>":
            continue
        out.append(token)
    return " ".join(out)


@dataclass
class LogPattern:
    """A template with how often it occurred, when first and last, where, and one example
    (redacted, a folded stack trace shown by its first line)."""

    template: str
    count: int
    first_seen: datetime
    last_seen: datetime
    example: str
    services: set[str] = field(default_factory=set)

    def record(self) -> dict[str, object]:
        return {
            "template": self.template,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "example": self.example,
            "services": sorted(self.services),
        }


def _config(similarity: float) -> TemplateMinerConfig:
    config = TemplateMinerConfig()
    config.drain_sim_th = similarity
    config.drain_depth = 4
    config.profiling_enabled = False
    config.parametrize_numeric_tokens = True
    return config


class TemplateMinerGroups:
    """Cluster ids for a stream of messages (the bench's view of the miner)."""

    def __init__(self, similarity: float = SIMILARITY) -> None:
        self._miner = TemplateMiner(config=_config(similarity))
        self._ids: list[int] = []
        self._masked: list[list[str]] = []

    def add(self, message: str) -> None:
        masked = mask(message)
        result = self._miner.add_log_message(masked)
        self._ids.append(int(result["cluster_id"]))
        self._masked.append(masked.split())

    def groups(self) -> list[str]:
        """Each message's final group: its cluster's canonical template, with the words that
        tell events apart put back (see `_event_words`)."""
        templates = {
            cluster.cluster_id: cluster.get_template() for cluster in self._miner.drain.clusters
        }
        words = _event_words(self._masked, self._ids, templates)
        return [
            canonical(_restore(templates[cluster_id], words.get(cluster_id, ()), masked))
            for cluster_id, masked in zip(self._ids, self._masked, strict=True)
        ]


def _event_words(
    masked: list[list[str]], ids: list[int], templates: dict[int, str]
) -> dict[int, tuple[int, ...]]:
    """Per cluster, the parameter positions that hold only a few plain words (`GET`/`POST`,
    `Started`/`Paused`): an event's verb, not a value. Drain merges lines that differ in
    one such word; putting it back splits them again."""
    values: dict[tuple[int, int], set[str]] = {}
    sizes: dict[int, int] = {}
    for cluster_id, tokens in zip(ids, masked, strict=True):
        template = templates[cluster_id].split()
        sizes[cluster_id] = sizes.get(cluster_id, 0) + 1
        if len(template) != len(tokens):
            continue
        for position, (slot, token) in enumerate(zip(template, tokens, strict=True)):
            if slot == "<*>":
                values.setdefault((cluster_id, position), set()).add(token)
    found: dict[int, list[int]] = {}
    for (cluster_id, position), seen in values.items():
        plain = all(_WORD.fullmatch(token) for token in seen)
        if plain and 1 < len(seen) <= _FEW_WORDS and len(seen) * 4 <= sizes[cluster_id]:
            found.setdefault(cluster_id, []).append(position)
    return {cluster_id: tuple(positions) for cluster_id, positions in found.items()}


def _restore(template: str, positions: tuple[int, ...], tokens: list[str]) -> str:
    if not positions:
        return template
    slots = template.split()
    if len(slots) != len(tokens):
        return template
    for position in positions:
        slots[position] = tokens[position]
    return " ".join(slots)


def mine(lines: Iterable[LogLine], *, similarity: float = SIMILARITY) -> list[LogPattern]:
    """Patterns of `lines` (in time order), most frequent first; ties by first seen."""
    ordered = list(lines)
    miner = TemplateMinerGroups(similarity)
    for line in ordered:
        # A folded trace is mined by its first line: the frames are the same for every one.
        miner.add(line.text.partition("\n")[0])
    patterns: dict[str, LogPattern] = {}
    for line, template in zip(ordered, miner.groups(), strict=True):
        pattern = patterns.get(template)
        if pattern is None:
            pattern = patterns[template] = LogPattern(
                template=redact(template),
                count=0,
                first_seen=line.at,
                last_seen=line.at,
                example=redact(first_line(line.text)),
            )
        pattern.count += 1
        pattern.first_seen = min(pattern.first_seen, line.at)
        pattern.last_seen = max(pattern.last_seen, line.at)
        if line.service:
            pattern.services.add(line.service)
    return sorted(patterns.values(), key=lambda p: (-p.count, p.first_seen, p.template))
