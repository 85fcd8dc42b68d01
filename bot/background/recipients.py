"""From a level's targets to the people and machines a page goes to.

`oncall:payments` is whoever the schedule says is on call at that moment; a person is
reached by direct message on each chat platform where they have an id (and @mentioned in
the incident's thread), by email when they have no chat id; a target that reaches nobody
is a problem the level records, and the next level is notified at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.escalation import Target
from core.notify_rules import NotifyRules, Person
from integrations.oncall import OncallDirectory, UnknownSchedule
from integrations.oncall_calendar import CalendarError

log = logging.getLogger(__name__)

REAL_CHATS = ("slack", "teams")


@dataclass(frozen=True)
class Recipient:
    """One address a page goes to (see `bot.background.page_channels` for the forms)."""

    channel: str  # chat, pagerduty, webhook, email
    address: str
    person: str | None
    target: str

    @property
    def label(self) -> str:
        if self.channel == "pagerduty":
            return "PagerDuty"
        if self.channel == "webhook":
            return f"webhook {self.address.partition(':')[2]}"
        if self.channel == "email":
            return self.address.partition(":")[2]
        return self.address

    def describe(self) -> str:
        who = f"{self.person} " if self.person else ""
        return f"{who}{self.address} ({self.target})"


@dataclass
class Found:
    recipients: list[Recipient] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class RecipientResolver:
    def __init__(
        self,
        notify: NotifyRules,
        directory: OncallDirectory | None,
        *,
        chat_platforms: Sequence[str],
        pagerduty: Sequence[str],
        email: bool,
    ) -> None:
        self._notify = notify
        self._directory = directory
        self.chat_platforms = list(chat_platforms)
        self._pagerduty = set(pagerduty)
        self._email = email

    async def prepare(self, now: datetime) -> None:
        """Read calendars due for a refresh now, outside any transaction."""
        if self._directory is None:
            return
        for name in self._directory.names:
            with contextlib.suppress(CalendarError, UnknownSchedule):
                await self._directory.who(name, now)

    async def resolve(self, targets: Sequence[Target], now: datetime) -> Found:
        found = Found()
        for target in targets:
            await self._one(target, now, found)
        unique: dict[tuple[str, str], Recipient] = {}
        for recipient in found.recipients:
            unique.setdefault((recipient.channel, recipient.address), recipient)
        found.recipients = list(unique.values())
        return found

    async def _one(self, target: Target, now: datetime, found: Found) -> None:
        text = str(target)
        if target.kind == "oncall":
            if self._directory is None:
                found.problems.append(f"{text}: no on-call schedules are configured")
                return
            try:
                holder = (await self._directory.who(target.name, now)).now
            except (UnknownSchedule, CalendarError) as error:
                found.problems.append(f"{text}: {error}")
                return
            if holder is None:
                found.problems.append(f"{text}: nobody is on call")
                return
            self._person(holder.user, text, found)
        elif target.kind == "user":
            self._person(target.name, text, found)
        elif target.kind == "channel":
            for platform in self.chat_platforms:
                found.recipients.append(
                    Recipient("chat", f"post:{platform}:{target.name}", None, text)
                )
        elif target.kind in ("slack", "teams"):
            if target.kind not in self.chat_platforms:
                found.problems.append(f"{text}: {target.kind} is not connected")
                return
            found.recipients.append(
                Recipient("chat", f"post:{target.kind}:{target.name}", None, text)
            )
        elif target.kind == "pagerduty":
            if target.name not in self._pagerduty:
                found.problems.append(f"{text}: no PagerDuty routing key is configured")
                return
            found.recipients.append(Recipient("pagerduty", f"pagerduty:{target.name}", None, text))
        elif target.kind == "webhook":
            found.recipients.append(Recipient("webhook", f"webhook:{target.name}", None, text))
        elif target.kind == "email":
            if not self._email:
                found.problems.append(f"{text}: LOOKOUT_SMTP_URL is not set")
                return
            found.recipients.append(Recipient("email", f"email:{target.name}", None, text))

    def _person(self, reference: str, text: str, found: Found) -> None:
        known = self._notify.person(reference)
        if known is None:
            known = (reference, Person(name=reference))
        key, person = known
        name = person.name or key
        reached = False
        for platform in REAL_CHATS:
            user = getattr(person, platform)
            if user and platform in self.chat_platforms:
                found.recipients.append(Recipient("chat", f"dm:{platform}:{user}", name, text))
                reached = True
        if not any(p in self.chat_platforms for p in REAL_CHATS) and "console" in (
            self.chat_platforms
        ):
            found.recipients.append(Recipient("chat", f"dm:console:{key}", name, text))
            reached = True
        if not reached and person.email and self._email:
            found.recipients.append(Recipient("email", f"email:{person.email}", name, text))
            reached = True
        if not reached:
            found.problems.append(f"{text}: no way to reach {name} (no chat id or email)")
