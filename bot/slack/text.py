"""What a person typed, from the text Slack sends: its markup read, its escaping undone, once.

Slack escapes `&`, `<` and `>` in every text it sends (`&amp;`, `&lt;`, `&gt;`) and writes
mentions, channels and links as markup in angle brackets (api.slack.com/reference/surfaces/
formatting, "Escaping text" and "Advanced formatting"):

* `<@U0BOB>` or `<@U0BOB|bob>` — a person: `@` and their name (Lookout's own mention is
  dropped, wherever it stands);
* `<#C0123|incidents>` — a channel: `#incidents`;
* `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^S01|@oncall>` — `@here`, `@oncall`;
* `<!date^1392734382^{date}|Feb 18th>` — its fallback text;
* `<https://example.com|the runbook>` — `the runbook (https://example.com)`; a link whose
  label is its address is the address; `<mailto:a@example.com|a@example.com>` the address.

Pure functions: the adapter looks the mentioned people's names up first (`mentioned_users`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from skills.contract import Mention

_MARKUP = re.compile(r"<([^<>]*)>")


def unescape(text: str) -> str:
    """Undo Slack's escaping of `&`, `<`, `>` (and nothing else: `&amp;copy;` → `&copy;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_users(text: str) -> list[str]:
    """The user ids mentioned in `text`, in order, each once."""
    found: list[str] = []
    for match in _MARKUP.finditer(text):
        inner = match[1]
        if inner.startswith("@"):
            user = inner[1:].split("|", 1)[0]
            if user and user not in found:
                found.append(user)
    return found


def mentioned(
    text: str, names: Mapping[str, str], *, skip: str | None = None
) -> tuple[Mention, ...]:
    """The people `text` mentions but `skip`, each with the name `typed_text` shows for
    them (`@` and their name, or their label or id when Slack cannot name them)."""
    found: list[Mention] = []
    for match in _MARKUP.finditer(text):
        target, _, label = match[1].partition("|")
        if not target.startswith("@") or target[1:] in ("", skip):
            continue
        user = target[1:]
        name = names.get(user) or unescape(label).lstrip("@") or user
        if all(mention.user_id != user for mention in found):
            found.append(Mention(user, name))
    return tuple(found)


def typed_text(
    text: str, *, names: Mapping[str, str] | None = None, drop_user: str | None = None
) -> str:
    """`text` as its author typed it: markup read (see the module's list), escaping undone.

    `names` maps user ids to the names to show; `drop_user` (Lookout's own user id) is
    removed where it is mentioned. Text outside markup is kept exactly, spacing included,
    except at both ends."""
    names = names or {}
    parts: list[str] = []
    position = 0
    for match in _MARKUP.finditer(text):
        parts.append(unescape(text[position : match.start()]))
        parts.append(_markup(match[1], names, drop_user))
        position = match.end()
    parts.append(unescape(text[position:]))
    return "".join(parts).strip()


def _markup(inner: str, names: Mapping[str, str], drop_user: str | None) -> str:
    target, _, label = inner.partition("|")
    label = unescape(label)
    if target.startswith("@"):
        user = target[1:]
        if user == drop_user:
            return ""
        return "@" + (names.get(user) or label.lstrip("@") or user)
    if target.startswith("#"):
        return "#" + (label.lstrip("#") or target[1:])
    if target.startswith("!"):
        special = target[1:]
        if special.startswith("date^"):
            return label
        if special.startswith("subteam^"):
            return "@" + (label.lstrip("@") or special.split("^", 1)[1])
        return "@" + (label.lstrip("@") or special)
    url = unescape(target)
    if url.startswith("mailto:"):
        address = url.removeprefix("mailto:")
        return address if label in ("", address) else f"{label} ({address})"
    if not label or label in (url, url.split("://", 1)[-1]):
        return url
    return f"{label} ({url})"
