"""A thesaurus of operations terms, so that words match what they mean: "RAM" finds
`HighMemoryUsage`, "k8s" finds Kubernetes, "sign on" finds a login incident.

The file format is the equivalence form of Solr's and Elasticsearch's synonyms files (one
group per line, terms separated by commas, `#` comments): the shipped `synonyms.txt` plus any
a team adds. Each group becomes a concept token (`~` and the group's first term) that the
lexical index adds wherever one of the group's terms occurs, in documents and queries alike,
as Lucene's synonym filter does at index and query time. Terms and text are compared word by
word after splitting identifiers (camelCase, snake_case, dots, dashes), lower-casing and
Snowball English stemming (Porter 2001, "Snowball: A language for stemming algorithms"), so
"certs" matches "cert" and "lapsed" matches "lapse".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import Stemmer

SHIPPED = Path(__file__).with_name("synonyms.txt")
CONCEPT_PREFIX = "~"
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


class SynonymsError(ValueError):
    """A synonyms file cannot be read or holds a line that is not a group of terms."""


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word ("lapsed" → "laps")."""
    return str(_stemmer().stemWord(word))


@dataclass(frozen=True)
class Word:
    """One identifier of a text: its lower-case form without separators, its parts, and
    the identifier as written."""

    whole: str
    parts: tuple[str, ...]
    text: str = ""
    start: int = 0  # where it begins and ends in the text it was read from
    end: int = 0


def words(text: str) -> list[Word]:
    """The identifiers of `text` in order: `CrashLoopBackOff` → whole "crashloopbackoff",
    parts ("crash", "loop", "back", "off"); `key-value` → "keyvalue", ("key", "value")."""
    found = []
    for found_at in _IDENTIFIER.finditer(unicodedata.normalize("NFKC", text)):
        match = found_at.group()
        parts = tuple(
            p.lower() for piece in re.split(r"[_.\-]+", match) for p in _PART.findall(piece)
        )
        whole = re.sub(r"[_.\-]+", "", match).lower()
        found.append(Word(whole, parts or (whole,), match, found_at.start(), found_at.end()))
    return found


def _term_key(term: str) -> tuple[str, ...]:
    return tuple(stem(part) for word in words(term) for part in word.parts)


@dataclass
class Thesaurus:
    """Concept groups; `concepts(text)` says which occur in a text and where."""

    # Stemmed word sequence → the concept tokens of every group holding that term.
    _terms: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    _longest: int = 0
    _groups: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, paths: Sequence[Path] = (SHIPPED,)) -> Thesaurus:
        """The groups of every file in `paths` (SynonymsError on an unreadable file or a
        line with fewer than two terms, naming the file and line)."""
        thesaurus = cls()
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as error:
                reason = error.strerror or type(error).__name__
                raise SynonymsError(f"cannot read synonyms file {path}: {reason}") from error
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as error:
                where = data[: error.start].count(b"\n") + 1
                raise SynonymsError(f"{path}:{where}: not UTF-8 text") from error
            for number, line in enumerate(text.splitlines(), start=1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                if "=>" in line:
                    raise SynonymsError(
                        f"{path}:{number}: only equivalence lines (a, b, c) are supported, "
                        "not mappings (a => b)"
                    )
                terms = [t.strip() for t in line.split(",") if t.strip()]
                if len({_term_key(t) for t in terms} - {()}) < 2:
                    raise SynonymsError(
                        f"{path}:{number}: a group needs two different terms or more"
                    )
                thesaurus.add(terms)
        return thesaurus

    def add(self, terms: Iterable[str]) -> None:
        """One group of terms that mean one thing; its concept is named by the first (and a
        number when another group's first term has the same stem)."""
        keys = [key for key in (_term_key(t) for t in terms) if key]
        if not keys:
            return
        concept = name = CONCEPT_PREFIX + "_".join(keys[0])
        while concept in self._groups:
            concept = f"{name}{CONCEPT_PREFIX}{len(self._groups)}"
        self._groups.add(concept)
        for key in keys:
            self._terms.setdefault(key, set()).add(concept)
            self._longest = max(self._longest, len(key))

    def __len__(self) -> int:
        return len(self._groups)

    def concepts(self, text: Sequence[Word]) -> list[tuple[str, int, int]]:
        """(concept token, first word, last word) for each term found in `text`, words
        counted from 0. A term matches a run of parts, or a word whole (`crashloopbackoff`
        as written, or `CrashLoopBackOff` split); matches may overlap."""
        return list(dict.fromkeys((c, first, last) for c, first, last, _ in self.matches(text)))

    def matches(
        self, text: Sequence[Word], source: str | None = None
    ) -> list[tuple[str, int, int, str]]:
        """`concepts` with the text each match covers: whole words as written (from
        `source`, the text `text` was read from, when given: "can't log in"), or the parts
        of one identifier ("connections" of `PostgresConnectionsExhausted`)."""
        stream: list[tuple[str, str, int]] = []  # (stemmed part, part, index of its word)
        found: list[tuple[str, int, int, str]] = []
        for index, word in enumerate(text):
            for concept in self._terms.get((stem(word.whole),), ()):
                found.append((concept, index, index, word.text))
            stream.extend((stem(part), part, index) for part in word.parts)
        for start in range(len(stream)):
            for length in range(1, min(self._longest, len(stream) - start) + 1):
                run = stream[start : start + length]
                concepts = self._terms.get(tuple(part for part, _, _ in run), ())
                if not concepts:
                    continue
                first, last = run[0][2], run[-1][2]
                whole = (start == 0 or stream[start - 1][2] != first) and (
                    start + length == len(stream) or stream[start + length][2] != last
                )
                if not whole:
                    said = " ".join(part for _, part, _ in run)
                elif source is not None:
                    said = source[text[first].start : text[last].end]
                else:
                    said = " ".join(w.text for w in text[first : last + 1])
                found.extend((concept, first, last, said) for concept in concepts)
        return found


def same_meaning(thesaurus: Thesaurus, ours: str, theirs: str) -> list[tuple[str, str]]:
    """(how `ours` says it, how `theirs` says it) for each concept both texts hold in
    different words, in the order `ours` names them: ("KV store", "redis")."""
    ours, theirs = unicodedata.normalize("NFKC", ours), unicodedata.normalize("NFKC", theirs)
    said: dict[str, str] = {}
    for concept, _, _, text in thesaurus.matches(words(theirs), theirs):
        said.setdefault(concept, text)
    longest: dict[str, tuple[int, int, str]] = {}  # concept → its longest match in ours
    for concept, first, last, text in thesaurus.matches(words(ours), ours):
        known = longest.get(concept)
        if concept in said and (known is None or len(text) > len(known[2])):
            longest[concept] = (first, last, text)
    pairs: dict[str, str] = {}  # how theirs says it → how ours does, first named first
    for concept, (_, _, text) in sorted(longest.items(), key=lambda item: item[1][:2]):
        # "high memory" and "Memory" share a word: that is no news either.
        if not set(_term_key(text)) & set(_term_key(said[concept])):
            pairs.setdefault(said[concept], text)
    return [(ours_said, theirs) for theirs, ours_said in pairs.items()]


@cache
def shipped() -> Thesaurus:
    """The thesaurus of `synonyms.txt` beside this module (read once)."""
    return Thesaurus.load()
