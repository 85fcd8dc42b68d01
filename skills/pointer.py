"""A trace where a question was asked when its answer went elsewhere.

An answer about an incident goes to that incident's thread, which may be in another channel
than the one the command was typed in. Where it was asked, Lookout then leaves one line that
links to the answer, so nobody is left wondering whether the command did anything. Each
platform supplies its own link (a Slack permalink, a Teams deep link, a console anchor).
"""

from __future__ import annotations

from core.incidents import display_id
from skills.contract import Context, Reply
from skills.markup import literal


def pointer_reply(incident_id: int, *, link: str | None, where: str | None = None) -> Reply:
    """`↪ Answered in INC-7's thread (#platform)`, linked to the answer when `link` is given;
    `where` names the channel as people know it. The reply has no incident, so it stays
    where it is posted."""
    label = f"{display_id(incident_id)}'s thread"
    shown = f"[{label}]({link})" if link else label
    place = f" ({literal(where)})" if where else ""
    return Reply(blocks=[Context(f"↪ Answered in {shown}{place}")], visibility="thread")
