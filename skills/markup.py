"""Text from alerts is data, not markup.

Replies are written in a small markdown subset (**bold**, _italic_, `code`, [text](url)).
Anything that came from outside — alert names, label values, annotations, titles derived from
them — goes in through `literal`, which marks each markup character with a backslash (as
CommonMark does). Each renderer then shows a marked character as itself, in whatever way its
platform needs (`protect` / `restore`), so `*`, `_`, `~`, backticks and brackets in a label
value can never turn the rest of a message bold, italic or into a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from skills.moments import in_utc, safe_end, without_delimiters

MARKUP = "\\`*_~[]"
_MARKED = re.compile(r"\\([\\`*_~\[\]])")
_TO_MARK = re.compile(r"([\\`*_~\[\]])")
# Marked characters travel through a renderer's regular expressions as private-use
# characters, which no markup pattern matches.
_BASE = 0xE000
_PROTECTED = re.compile("[" + "".join(chr(_BASE + ord(c)) for c in MARKUP) + "]")


def literal(text: str) -> str:
    """`text` as it must appear, whatever markup characters it holds (it can hold no time
    span, see `skills.moments`)."""
    return _TO_MARK.sub(r"\\\1", without_delimiters(text))


def protect(text: str) -> str:
    """Marked characters replaced by private-use stand-ins (see `restore`)."""
    return _MARKED.sub(lambda match: chr(_BASE + ord(match[1])), text)


def restore(text: str, show: Callable[[str], str] = lambda char: char) -> str:
    """Stand-ins back to characters, each shown as `show(char)` says."""
    return _PROTECTED.sub(lambda match: show(chr(ord(match[0]) - _BASE)), text)


def has_literals(text: str) -> bool:
    return _MARKED.search(text) is not None


def plain(text: str) -> str:
    """The text without its marks, times in UTC (for notifications and fallback text)."""
    return in_utc(_MARKED.sub(r"\1", text))


def cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters of markdown, cut at a line or word end where one is near,
    never inside a mark, with bold and code spans left open closed again."""
    if len(text) <= limit:
        return text
    room = max(limit - len(ellipsis) - 4, 0)
    head = text[:room]
    head = head[: safe_end(head)]  # a time span is whole or not there
    for stop in ("\n", " "):
        at = head.rfind(stop)
        if at >= room * 0.8:
            head = head[:at]
            break
    trailing = len(head) - len(head.rstrip("\\"))
    if trailing % 2:  # a cut mark would escape the ellipsis
        head = head[:-1]
    bare = _MARKED.sub("", head)
    closing = ""
    if bare.count("`") % 2:
        closing += "`"
    if bare.count("**") % 2:
        closing += "**"
    return head.rstrip() + closing + ellipsis
