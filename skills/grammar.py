"""Command grammar from a pydantic model: `verb [leading words…] [text…]`.

The rule (the same on every platform, also in `help` and the README):

1. **Leading words** — the verb, `--options` and the positional arguments that are not text —
   are separated by whitespace. A leading word may hold spaces when quoted as a shell would
   (`--alert "High Error"`); there the quotes group and are removed, and a backslash keeps
   the next character.
2. **Text** — the last positional argument of a command that takes words to the end (a note,
   a resolve note, a reject reason, a question, a description) — is everything after the
   leading words, **exactly as typed**: quotes, apostrophes, backslashes, emoji, newlines and
   inner spacing are kept; only the whitespace around it is trimmed. `--options` of the
   command may come before the text, or at its very end (one word per value:
   `metrics rate(x[5m]) --since 1h`); anything else starting with `--` is text.
3. **Incidents** — an optional `[incident]` argument takes the next word only when it reads as
   an incident id: `INC-42`, `#42` or `42`. In an incident's thread that incident is the
   subject, so there only `INC-42` or `#42` names another one, and a bare number is text
   (`resolve 2 replicas restarted` in INC-8's thread resolves INC-8). Every command with an
   `[incident]` also takes `--incident INC-42`.

Fields marked `Positional()` are taken in order; the rest are `--options` named after the
field (underscores become hyphens); `bool` fields are flags (`--dry-run`, or `--dry-run=no`:
yes/no, true/false, on/off, 1/0, anything else refused). `Positional(rest=True)` on a `str`
field is text (rule 2); on a `list` field it takes the remaining leading words (rule 1), options
anywhere among them. `Positional(rest=True, raw=True)` is code such as PromQL: text whose
quotes around the whole of it only group it. Usage text derives from the model, so the grammar a
user sees and the one the parser applies cannot drift apart; validation errors become one
plain sentence naming the argument and what it accepts.
"""

from __future__ import annotations

import difflib
import re
import typing
import unicodedata
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from core.incidents import display_id
from core.wording import plural
from skills.errors import UsageError

INCIDENT_OPTION = "--incident"


@dataclass(frozen=True)
class Positional:
    """Marks a field as positional. `rest=True` takes what remains: text for a `str` field,
    leading words for a `list`; `raw=True` (with `rest`) drops quotes around the whole text;
    `incident=True` (an optional field) takes the next word only when it reads as an
    incident id, the way the thread it is typed in allows (module docstring, rule 3)."""

    rest: bool = False
    raw: bool = False
    incident: bool = False


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


def choices(info: FieldInfo) -> tuple[str, ...]:
    """The values a `Literal[...]` field (or `Literal[...] | None`) accepts, else ()."""
    annotation = info.annotation
    found: list[str] = []
    for part in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(part) is typing.Literal:
            found += [str(value) for value in typing.get_args(part)]
    return tuple(found)


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def incident_field(model: type[BaseModel]) -> str | None:
    """The field of an `[incident]` argument, if the model has one."""
    for name, info in model.model_fields.items():
        marker = _positional(info)
        if marker is not None and marker.incident:
            return name
    return None


def usage(verb: str, model: type[BaseModel]) -> str:
    parts = [verb]
    for name, info in model.model_fields.items():
        marker = _positional(info)
        metavar = name.replace("_", "-")
        if marker is not None:
            listed = choices(info)
            if listed:
                word = "|".join(listed)
                parts.append(word if info.is_required() else f"[{word}]")
                continue
            word = f"<{metavar}>" if info.is_required() else f"[{metavar}]"
            if marker.rest:
                word = f"<{metavar}…>" if info.is_required() else f"[{metavar}…]"
            parts.append(word)
        elif _is_bool(info):
            parts.append(f"[{option_name(name)}]")
        else:
            listed = choices(info)
            value = "|".join(listed) if listed else metavar.upper()
            word = f"{option_name(name)} {value}"
            parts.append(word if info.is_required() else f"[{word}]")
    return " ".join(parts)


def describe(model: type[BaseModel]) -> list[tuple[str, str]]:
    """(argument, description) pairs for `help <skill>`."""
    rows = []
    for name, info in model.model_fields.items():
        label = name.replace("_", "-") if _positional(info) else option_name(name)
        rows.append((label, info.description or ""))
    if incident_field(model) is not None and INCIDENT_OPTION not in {r[0] for r in rows}:
        rows.append((INCIDENT_OPTION, "the incident, as an option (INC-42)"))
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
# Zero-width spaces: zero-width space, word joiner, zero-width no-break space (the BOM), the
# Mongolian vowel separator. Pasted text has them where a space was, or inside a word. Soft
# hyphens, joiners (ZWJ, ZWNJ) and direction marks stand inside words only.
_ZERO_WIDTH_SPACES = re.compile("[\u180e\u200b\u2060\ufeff]+")
# Longer runs of text without a space are text, not commands' leading words: kept whole.
_MAX_SPLIT_PIECE = 200


def normalise_word(word: str) -> str:
    """One command word as its author meant it: invisible characters removed, compatibility
    forms folded (NFKC: fullwidth `ＩＮＣ－４` → `INC-4`, `＃4` → `#4`), every hyphen or dash
    look-alike made `-`, and an en/em dash in front of a name made `--` (autocorrect's
    rewrite of `--all`). Unicode TR15 (NFKC) and the Unicode dash list (Pd, U+2212)."""
    word = _LONG_DASH_OPTION.sub("--", _INVISIBLE.sub("", word))
    return _DASHES.sub("-", unicodedata.normalize("NFKC", word))


def _is_token(raw: str) -> bool:
    return bool(_TOKEN.match(normalise_word(raw)))


def _unseen_words(piece: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each word in `piece` (text without whitespace, at `start` in the
    command). A zero-width space between two visible characters separates words where a
    space is plausible: where what follows it begins an id or an option (`ack\u200bINC-4`),
    or what stands before it is one (`INC-4\u200bfixed`), and the two together are not one
    (`INC\u200b-4`, `#\u200b42` stay whole). Elsewhere it stands inside a word."""
    if len(piece) > _MAX_SPLIT_PIECE:
        return [(start, start + len(piece))]
    cuts = [
        match
        for match in _ZERO_WIDTH_SPACES.finditer(piece)
        if match.start() > 0 and match.end() < len(piece)
    ]
    spans: list[tuple[int, int]] = []
    begin = 0
    for number, cut in enumerate(cuts):
        before = piece[begin : cut.start()]
        after_ends = [later.start() for later in cuts[number + 1 :]] + [len(piece)]
        after = [piece[cut.end() : stop] for stop in after_ends]
        together = piece[begin : after_ends[0]]
        if not normalise_word(before) or _is_token(together):
            continue
        if _is_token(before) or any(_is_token(word) for word in after):
            spans.append((start + begin, start + cut.start()))
            begin = cut.end()
    spans.append((start + begin, start + len(piece)))
    return spans


def normalise_leading(text: str) -> str:
    """`text` with its leading words normalised (`normalise_word`): the verb, then every
    following word that reads as an incident or run id or an option, each separated by one
    space whatever Unicode space or invisible character stood there (a no-break space after
    a mention, a zero-width space from copy-paste, or one alone between two words:
    `_unseen_words`). From the first other word on, the text is kept exactly as typed."""
    words: list[str] = []
    end = 0
    pieces = (
        span for match in _PIECE.finditer(text) for span in _unseen_words(match[2], match.start(2))
    )
    for first, last in pieces:
        word = normalise_word(text[first:last])
        if not word:  # only invisible characters
            end = last
            continue
        if words and not _TOKEN.match(word):
            if _ZERO_WIDTH_SPACES.fullmatch(text[end:first]):
                end = first  # split at a zero-width space: the rest starts at the word
            break
        words.append(word)
        end = last
    rest = text[end:]
    stripped = rest.lstrip()
    if not stripped:
        return " ".join(words)
    separator = rest[: len(rest) - len(stripped)]
    if not separator.isascii():
        separator = " "
    return " ".join(words) + (separator or " ") + stripped


_ID_ANYWHERE = re.compile(r"(?i)^(?:#|inc-?)?(\d{1,18})$")
_ID_IN_THREAD = re.compile(r"(?i)^(?:#|inc-?)(\d{1,18})$")
_BARE_NUMBER = re.compile(r"^\d{1,18}$")


def reads_as_incident(word: str, *, thread_incident: int | None) -> bool:
    """Whether `word` names an incident: `INC-42`, `#42`, `42` — in an incident's thread
    (`thread_incident`) only `INC-42` and `#42`, since a bare number there is text."""
    pattern = _ID_IN_THREAD if thread_incident is not None else _ID_ANYWHERE
    match = pattern.match(word)
    return match is not None and int(match[1]) > 0


@dataclass(frozen=True)
class Word:
    """One leading word: its value (quotes removed), where it starts and ends in the text,
    and whether its quotes were closed."""

    value: str
    start: int
    end: int
    closed: bool = True


def read_word(text: str, start: int) -> Word | None:
    """The leading word at or after `start` (rule 1 of the module docstring), else None."""
    index = start
    while index < len(text) and text[index].isspace():
        index += 1
    if index == len(text):
        return None
    begin = index
    value: list[str] = []
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote is None and char.isspace():
            break
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        elif char == "\\" and quote != "'" and index + 1 < len(text):
            index += 1
            value.append(text[index])
        else:
            value.append(char)
        index += 1
    return Word("".join(value), begin, index, quote is None)


def words(text: str) -> list[str]:
    """Every leading word of `text` (rule 1). Raises UsageError for an unclosed quote."""
    found: list[str] = []
    position = 0
    while (word := read_word(text, position)) is not None:
        if not word.closed:
            raise UsageError("That command has an unclosed quote; close it and try again.")
        found.append(word.value)
        position = word.end
    return found


def split_verb(command: str) -> tuple[str, str]:
    """(the verb as typed, the rest of the command as typed)."""
    stripped = command.strip()
    if not stripped:
        return "", ""
    parts = stripped.split(None, 1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _as_typed(text: str) -> str:
    """Code without quotes around the whole of it (they only group it)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" and text[0] not in text[1:-1]:
        return text[1:-1]
    return text


_TAIL = re.compile(r"\S+")


def _trailing_options(
    text: str, options: dict[str, str], fields: dict[str, FieldInfo]
) -> tuple[str, list[tuple[str, str]]]:
    """`text` without the command's options at its very end, and those options in order."""
    spans = [(m.start(), m.group()) for m in _TAIL.finditer(text)]
    taken: list[tuple[str, str]] = []
    while spans:
        last = spans[-1][1]
        key, has_value, _ = normalise_word(last).partition("=")
        name = options.get(key)
        if name is not None and (has_value or _is_bool(fields[name])):
            taken.insert(0, (key, last.partition("=")[2] if has_value else ""))
            spans.pop()
            continue
        if len(spans) >= 2:
            key = normalise_word(spans[-2][1])
            name = options.get(key)
            if name is not None and not _is_bool(fields[name]) and "=" not in key:
                taken.insert(0, (key, last))
                spans.pop()
                spans.pop()
                continue
        break
    end = spans[-1][0] + len(spans[-1][1]) if spans else 0
    return text[:end], taken


FLAG_VALUES = {
    **dict.fromkeys(("true", "yes", "on", "1"), True),
    **dict.fromkeys(("false", "no", "off", "0"), False),
}


def _flag_value(key: str, value: str) -> bool:
    """A flag's value written after `=`: yes or no in one of their usual spellings; any other
    is refused rather than guessed (`--dry-run=maybe` must not run anything for real)."""
    meaning = FLAG_VALUES.get(normalise_word(value).lower())
    if meaning is None:
        raise UsageError(
            f"`{key}` is on or off: write `{key}` alone, or `{key}=yes` / `{key}=no` "
            f"(true/false, on/off, 1/0 also work), not `{key}={value}`."
        )
    return meaning


def _unknown_option(key: str, verb: str, model: type[BaseModel], options: dict[str, str]) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"`{key}` is not an option of `{verb}`.{hint} Usage: `{usage(verb, model)}`"


def parse(
    verb: str, model: type[BaseModel], text: str, *, thread_incident: int | None = None
) -> BaseModel:
    """Bind the text after the verb to the model's fields by the module's rule and validate;
    every error becomes one `UsageError` sentence. `thread_incident`: the incident whose
    thread the command was typed in, if any (rule 3)."""
    fields = model.model_fields
    options = {option_name(name): name for name, info in fields.items() if not _positional(info)}
    subject = incident_field(model)
    if subject is not None and INCIDENT_OPTION not in options:
        options[INCIDENT_OPTION] = subject
    positionals = [name for name, info in fields.items() if _positional(info)]
    values: dict[str, Any] = {}
    given: set[str] = set()
    skipped: str | None = None  # a bare number in a thread, not read as the incident

    def take_option(key: str, inline: str, has_inline: bool, after: int) -> int:
        name = options[key]
        if name in given and name == subject and key == INCIDENT_OPTION:
            raise UsageError(f"Name the incident once. Usage: `{usage(verb, model)}`")
        given.add(name)
        if _is_bool(fields[name]):
            values[name] = _flag_value(key, inline) if has_inline and inline else True
            return after
        if has_inline:
            values[name] = inline
            return after
        following = read_word(text, after)
        if following is None:
            raise UsageError(f"`{key}` needs a value. Usage: `{usage(verb, model)}`")
        if not following.closed:
            raise UsageError("That command has an unclosed quote; close it and try again.")
        values[name] = following.value
        return following.end

    position = 0
    slot = 0
    while True:
        word = read_word(text, position)
        if word is None:
            break
        field_name = positionals[slot] if slot < len(positionals) else None
        info = fields[field_name] if field_name is not None else None
        marker = _positional(info) if info is not None else None
        is_text = _text_ahead(fields, positionals[slot:])
        candidate = normalise_word(word.value) if word.closed else word.value
        if candidate.startswith("--") and len(candidate) > 2:
            key, has_inline, _ = candidate.partition("=")
            if key in options:
                position = take_option(
                    key, word.value.partition("=")[2], bool(has_inline), word.end
                )
                continue
            if not is_text:
                raise UsageError(_unknown_option(key, verb, model, options))
        if field_name is None or info is None or marker is None:
            extra = text[word.start :].strip()
            raise UsageError(
                _unexpected(verb, model, skipped or extra, thread_incident, subject in given)
            )
        if marker.rest and _is_list(info):
            items: list[str] = []
            index = word.start
            while (item := read_word(text, index)) is not None:
                if not item.closed:
                    raise UsageError("That command has an unclosed quote; close it and try again.")
                key, has_inline, _ = normalise_word(item.value).partition("=")
                if key.startswith("--") and len(key) > 2:
                    if key not in options:
                        raise UsageError(_unknown_option(key, verb, model, options))
                    index = take_option(
                        key, item.value.partition("=")[2], bool(has_inline), item.end
                    )
                    continue
                items.append(item.value)
                index = item.end
            values[field_name] = items
            given.add(field_name)
            break
        if marker.rest:
            body, tail = _trailing_options(text[word.start :], options, fields)
            for key, value in tail:
                take_option(key, value, bool(value) or _is_bool(fields[options[key]]), len(text))
            body = body.strip()
            if skipped is not None and body == skipped and text[word.start] not in "'\"":
                # `resolve 36` alone in INC-31's thread most likely means INC-36; a number
                # with more words (`note 2 replicas restarted`) is text.
                refusal = _unexpected(verb, model, skipped, thread_incident, subject in given)
                raise UsageError(
                    f"{refusal} To write the number itself, quote it: `{verb} '{skipped}'`."
                )
            values[field_name] = _as_typed(body) if marker.raw else body
            given.add(field_name)
            break
        if marker.incident and not info.is_required():
            slot += 1
            if field_name in given:
                continue
            if word.closed and reads_as_incident(candidate, thread_incident=thread_incident):
                values[field_name] = candidate
                given.add(field_name)
                position = word.end
            elif thread_incident is not None and _BARE_NUMBER.match(candidate):
                skipped = candidate
            continue
        if not word.closed:
            raise UsageError("That command has an unclosed quote; close it and try again.")
        values[field_name] = word.value
        given.add(field_name)
        position = word.end
        slot += 1
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise UsageError(explain(verb, model, error)) from None


def _text_ahead(fields: dict[str, FieldInfo], names: list[str]) -> bool:
    """Whether the next word may start the text: the next positional is text, or only
    optional `[incident]` arguments stand before it."""
    for name in names:
        info = fields[name]
        marker = _positional(info)
        if marker is None:
            return False
        if marker.rest:
            return not _is_list(info)
        if not (marker.incident and not info.is_required()):
            return False
    return False


def _unexpected(
    verb: str, model: type[BaseModel], extra: str, thread: int | None, incident_given: bool
) -> str:
    first = extra.split()[0] if extra.split() else extra
    if incident_field(model) is not None and not incident_given:
        if thread is not None and _BARE_NUMBER.match(first):
            return (
                f"In {display_id(thread)}'s thread `{verb}` acts on {display_id(thread)}; for "
                f"another incident write `INC-{first}` or `#{first}`."
            )
        return f"`{first}` is not an incident id (try `INC-42` or `#42`)."
    return f"`{verb}` did not expect `{extra}`. Usage: `{usage(verb, model)}`"


def _bounds(info: FieldInfo) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for item in info.metadata:
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Gt):
            low = item.gt
        elif isinstance(item, Le):
            high = item.le
        elif isinstance(item, Lt):
            high = item.lt
    return low, high


def _length(info: FieldInfo) -> tuple[int | None, int | None]:
    low = high = None
    for item in info.metadata:
        if isinstance(item, MinLen):
            low = item.min_length
        elif isinstance(item, MaxLen):
            high = item.max_length
    return low, high


NUMBER_ERRORS = {
    "greater_than_equal",
    "greater_than",
    "less_than_equal",
    "less_than",
    "int_parsing",
    "int_from_float",
    "int_type",
    "float_parsing",
    "float_type",
}
LENGTH_ERRORS = {"string_too_long", "string_too_short", "too_long", "too_short"}


def explain(verb: str, model: type[BaseModel], error: ValidationError) -> str:
    """One plain sentence for the first validation error: the argument by the name the user
    types, and what it accepts (a range, a length, a list of values) — never pydantic's own
    wording."""
    fields = model.model_fields
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    info = fields.get(name)
    label = name.replace("_", "-") if info is not None and _positional(info) else option_name(name)
    if info is None:
        label = verb
    kind = first["type"]
    tail = f" Usage: `{usage(verb, model)}`"
    if kind == "missing":
        return f"`{label}` is missing.{tail}"
    given = first.get("input")
    given_text = given if isinstance(given, str) else ""
    if info is not None and choices(info):
        listed = choices(info)
        close = difflib.get_close_matches(given_text.lower(), listed, n=1, cutoff=0.5)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        return f"`{label}` is one of {', '.join(listed)}, not `{given_text}`.{hint}{tail}"
    if info is not None and kind in NUMBER_ERRORS:
        low, high = _bounds(info)
        whole = kind.startswith("int") or info.annotation in (int, int | None)
        number = "a whole number" if whole else "a number"
        if low is not None and high is not None:
            return f"`{label}` takes {number} from {low} to {high}.{tail}"
        if low is not None:
            return f"`{label}` takes {number} of at least {low}.{tail}"
        if high is not None:
            return f"`{label}` takes {number} of at most {high}.{tail}"
        return f"`{label}` takes {number}.{tail}"
    if info is not None and kind in LENGTH_ERRORS:
        low, high = _length(info)
        if kind in ("string_too_long", "too_long") and high is not None:
            return f"`{label}` holds at most {high:,} characters.{tail}"
        return f"`{label}` needs at least {plural(low or 1, 'character')}.{tail}"
    if kind == "bool_parsing":
        return f"`{label}` is yes or no.{tail}"
    if kind == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
        return f"`{label}`: {message.rstrip('.')}.{tail}"
    return f"`{label}` does not take `{given_text}`.{tail}"
