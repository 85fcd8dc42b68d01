"""Command grammar from a pydantic model: `verb <positional> [rest…] [--option VALUE] [--flag]`.

Fields marked `Positional()` are taken in order; the rest are `--options` named after the
field (underscores become hyphens); `bool` fields are flags. Words split as a shell would
(quotes group words and are removed); a `Positional(rest=True, raw=True)` field — code such
as PromQL, where quotes belong to the text — takes its words as typed instead. Usage text
derives from the model, so the grammar a user sees and the one the parser applies cannot
drift apart.
"""

from __future__ import annotations

import re
import shlex
import typing
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from skills.errors import UsageError


@dataclass(frozen=True)
class Positional:
    """Marks a field as positional; `rest=True` takes all remaining words (a list or a str);
    `raw=True` (with `rest`) takes them as typed, quotes kept — except quotes around a
    whole word, which only group it."""

    rest: bool = False
    raw: bool = False


def _positional(info: FieldInfo) -> Positional | None:
    for item in info.metadata:
        if isinstance(item, Positional):
            return item
    return None


def _is_bool(info: FieldInfo) -> bool:
    annotation = info.annotation
    return annotation is bool or (
        typing.get_origin(annotation) in (typing.Union, type(int | None))
        and bool in typing.get_args(annotation)
    )


def _is_list(info: FieldInfo) -> bool:
    return typing.get_origin(info.annotation) is list


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def usage(verb: str, model: type[BaseModel]) -> str:
    parts = [verb]
    for name, info in model.model_fields.items():
        marker = _positional(info)
        metavar = name.replace("_", "-")
        if marker is not None:
            word = f"<{metavar}>" if info.is_required() else f"[{metavar}]"
            if marker.rest:
                word = f"<{metavar}…>" if info.is_required() else f"[{metavar}…]"
            parts.append(word)
        elif _is_bool(info):
            parts.append(f"[{option_name(name)}]")
        else:
            word = f"{option_name(name)} {metavar.upper()}"
            parts.append(word if info.is_required() else f"[{word}]")
    return " ".join(parts)


def describe(model: type[BaseModel]) -> list[tuple[str, str]]:
    """(argument, description) pairs for `help <skill>`."""
    rows = []
    for name, info in model.model_fields.items():
        label = name.replace("_", "-") if _positional(info) else option_name(name)
        rows.append((label, info.description or ""))
    return rows


# Characters that copy-paste and chat clients put into commands without anyone seeing them:
# soft hyphen, zero-width space/joiners, direction marks and embeddings, word joiner and
# invisible operators, the byte-order mark, the Mongolian vowel separator.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Hyphens and dashes that look like "-": hyphen, non-breaking hyphen, figure/en/em dash,
# horizontal bar, minus sign, small and fullwidth hyphen-minus (the last two NFKC handles).
_DASHES = re.compile("[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
# A dash that autocorrect made of "--" in front of an option name.
_LONG_DASH_OPTION = re.compile("^[\u2013\u2014](?=[^\\W\\d_])")
# Words the grammar reads as tokens rather than text: incident and run ids, options.
_TOKEN = re.compile(r"(?i)^(?:#?\d+|(?:inc|r)-?\d+|--?[a-z][a-z0-9-]*(?:=\S*)?)$")
_PIECE = re.compile(r"(\s*)(\S+)")


def normalise_word(word: str) -> str:
    """One command word as its author meant it: invisible characters removed, compatibility
    forms folded (NFKC: fullwidth `ＩＮＣ－４` → `INC-4`, `＃4` → `#4`), every hyphen or dash
    look-alike made `-`, and an en/em dash in front of a name made `--` (autocorrect's
    rewrite of `--all`). Unicode TR15 (NFKC) and the Unicode dash list (Pd, U+2212)."""
    word = _LONG_DASH_OPTION.sub("--", _INVISIBLE.sub("", word))
    return _DASHES.sub("-", unicodedata.normalize("NFKC", word))


def normalise_leading(text: str) -> str:
    """`text` with its leading words normalised (`normalise_word`): the verb, then every
    following word that reads as an incident or run id or an option, each separated by one
    space whatever Unicode space or invisible character stood there (a no-break space after
    a mention, a zero-width space from copy-paste). From the first other word on, the text
    is kept exactly as typed."""
    words: list[str] = []
    end = 0
    for match in _PIECE.finditer(text):
        word = normalise_word(match[2])
        if not word:  # only invisible characters
            end = match.end()
            continue
        if words and not _TOKEN.match(word):
            break
        words.append(word)
        end = match.end()
    rest = text[end:]
    stripped = rest.lstrip()
    if not stripped:
        return " ".join(words)
    separator = rest[: len(rest) - len(stripped)]
    if not separator.isascii():
        separator = " "
    return " ".join(words) + (separator or " ") + stripped


def split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        raise UsageError("That command has an unclosed quote; close it and try again.") from None


def split_raw(text: str) -> list[str]:
    """The words `split` finds, as typed: the same grouping by quotes and backslashes, with
    the quotes and backslashes kept. Raises UsageError for an unclosed quote."""
    words: list[str] = []
    word: list[str] = []
    started = False
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote is None and char.isspace():
            if started:
                words.append("".join(word))
                word, started = [], False
        else:
            started = True
            word.append(char)
            if char == "\\" and quote != "'" and index + 1 < len(text):
                index += 1
                word.append(text[index])
            elif quote is None and char in "'\"":
                quote = char
            elif char == quote:
                quote = None
        index += 1
    if quote is not None:
        raise UsageError("That command has an unclosed quote; close it and try again.")
    if started:
        words.append("".join(word))
    return words


def _as_typed(word: str) -> str:
    """A raw word without quotes around the whole of it (they only group it)."""
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"" and word[0] not in word[1:-1]:
        return word[1:-1]
    return word


def parse(
    verb: str, model: type[BaseModel], words: list[str], *, raw: list[str] | None = None
) -> BaseModel:
    """Bind words to the model's fields and validate; errors become one `UsageError`.
    `raw`: the same words as typed (`split_raw`), for `Positional(raw=True)` fields."""
    fields = model.model_fields
    options = {option_name(name): name for name, info in fields.items() if not _positional(info)}
    positionals = [name for name, info in fields.items() if _positional(info)]
    typed = raw if raw is not None and len(raw) == len(words) else words
    values: dict[str, Any] = {}
    loose: list[str] = []
    loose_typed: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("--") and normalise_word(word).split("=", 1)[0] in options:
            word = normalise_word(word)  # `—all` typed where `--all` was meant
        if word.startswith("--") and len(word) > 2:
            key, _, inline = word.partition("=")
            name = options.get(key)
            if name is None:
                raise UsageError(
                    f"`{key}` is not an option of `{verb}`. Usage: `{usage(verb, model)}`"
                )
            if _is_bool(fields[name]):
                values[name] = inline.lower() not in ("false", "no", "0") if inline else True
            elif inline:
                values[name] = inline
            elif index + 1 < len(words):
                index += 1
                values[name] = words[index]
            else:
                raise UsageError(f"`{key}` needs a value. Usage: `{usage(verb, model)}`")
        else:
            loose.append(word)
            loose_typed.append(_as_typed(typed[index]))
        index += 1
    for name in positionals:
        if not loose:
            break
        info = fields[name]
        marker = _positional(info)
        if marker is not None and marker.rest:
            chosen = loose_typed if marker.raw else loose
            values[name] = list(chosen) if _is_list(info) else " ".join(chosen)
            loose, loose_typed = [], []
        else:
            values[name] = loose.pop(0)
            loose_typed.pop(0)
    if loose:
        extra = " ".join(loose)
        raise UsageError(f"`{verb}` did not expect `{extra}`. Usage: `{usage(verb, model)}`")
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = first["loc"][0] if first["loc"] else verb
        label = str(where)
        if label in fields and not _positional(fields[label]):
            label = option_name(label)
        problem = "is missing" if first["type"] == "missing" else f": {first['msg']}"
        problem = problem.replace("Value error, ", "")
        raise UsageError(
            f"`{label}`{' ' if problem[0] != ':' else ''}{problem}. Usage: `{usage(verb, model)}`"
        ) from None
