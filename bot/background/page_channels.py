"""Where a page goes, and how: chat (a direct message with an @mention in the incident's
thread, a channel post, a thread notice), PagerDuty's Events API v2, an outbound webhook,
email. Each `send` either returns what the receiver gave back or raises `SendError`.

Recipients are written as the pages table keeps them:
`dm:<platform>:<user>`, `post:<platform>:<channel>`, `thread:<platform>` (chat),
`pagerduty:<routing key name>` (empty: PAGERDUTY_ROUTING_KEY), `webhook:<name>`,
`email:<address>`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.platforms import ChatPlatform, DeliveryError, PostedMessage
from core.incidents import display_id
from core.notify_rules import WebhookTarget
from integrations.email import EmailSender, html_page
from integrations.outbound_webhooks import WebhookSender
from integrations.pagerduty import PagerDutyEvents, TriggerEvent
from integrations.sending import SendError
from skills.contract import Reply
from skills.views.incident_card import CardFacts
from skills.views.page_message import PageContext, headline, page_lines, page_reply, subject
from storage.models import IncidentRow

log = logging.getLogger(__name__)


class PersonalMessages(Protocol):
    """What a chat platform offers besides posting: reaching one person."""

    name: str

    async def direct_message(self, *, user: str, reply: Reply) -> PostedMessage: ...

    async def mention(
        self, *, channel: str, thread_id: str | None, user: str, name: str, reply: Reply
    ) -> PostedMessage: ...


@dataclass(frozen=True)
class Outgoing:
    """One page as the channels need it (a snapshot taken inside a unit of work)."""

    page_id: int
    key: str
    channel: str
    recipient: str
    person: str | None
    action: str
    incident: IncidentRow
    facts: CardFacts
    context: PageContext
    # Where the incident's message is on each chat platform: (channel, thread id).
    threads: Mapping[str, tuple[str, str | None]]
    alert_links: tuple[tuple[str, str], ...] = ()
    team: str | None = None
    # For a fold: the earlier page's message, to edit.
    earlier: Mapping[str, Any] | None = None


class PageChannels:
    def __init__(
        self,
        *,
        platforms: Sequence[ChatPlatform],
        channel_for: Callable[[str, str | None, str], str],
        pagerduty: Mapping[str, PagerDutyEvents],
        webhooks: Mapping[str, WebhookTarget],
        webhook_sender: WebhookSender | None,
        email: EmailSender | None,
        mention_in_thread: bool = True,
    ) -> None:
        self._platforms = {platform.name: platform for platform in platforms}
        self._channel_for = channel_for
        self._pagerduty = dict(pagerduty)
        self._webhooks = dict(webhooks)
        self._webhook_sender = webhook_sender
        self._email = email
        self._mention = mention_in_thread

    @property
    def chat_platforms(self) -> list[str]:
        return list(self._platforms)

    def can_email(self) -> bool:
        return self._email is not None

    def has_pagerduty(self, name: str) -> bool:
        return name in self._pagerduty

    async def send(self, page: Outgoing, now: datetime) -> dict[str, Any]:
        """Deliver one page; raises SendError."""
        if page.channel == "chat":
            return await self._chat(page, now)
        if page.channel == "pagerduty":
            return await self._pagerduty_event(page, now)
        if page.channel == "webhook":
            return await self._webhook(page, now)
        if page.channel == "email":
            return await self._send_email(page, now)
        raise SendError(f"no channel {page.channel!r}", permanent=True)

    # --- chat ---

    def _platform(self, name: str) -> ChatPlatform:
        platform = self._platforms.get(name)
        if platform is None:
            raise SendError(f"{name} is not connected", permanent=True)
        return platform

    async def _chat(self, page: Outgoing, now: datetime) -> dict[str, Any]:
        how, _, rest = page.recipient.partition(":")
        platform_name, _, where = rest.partition(":")
        platform = self._platform(platform_name)
        reply = page_reply(page.incident, page.facts, page.context, now)
        try:
            if page.action == "fold":
                return await self._fold(platform, page, reply)
            if how == "dm":
                return await self._direct(platform, page, where, reply)
            if how == "post":
                posted = await platform.post(channel=where, reply=reply)
                return _posted(posted, where)
            if how == "thread":
                channel, thread = page.threads.get(platform.name) or (
                    self._channel_for(platform.name, page.incident.service, page.incident.project),
                    None,
                )
                if thread:
                    posted = await platform.post_in_thread(
                        channel=channel, thread_id=thread, reply=reply
                    )
                else:
                    posted = await platform.post(channel=channel, reply=reply)
                return _posted(posted, channel)
        except DeliveryError as error:
            raise SendError(
                f"{platform.name}: {error.reason}", permanent=error.permanent
            ) from error
        except SendError:
            raise
        except Exception as error:
            raise SendError(f"{platform.name}: {error!r}") from error
        raise SendError(f"no chat recipient {page.recipient!r}", permanent=True)

    async def _direct(
        self, platform: ChatPlatform, page: Outgoing, user: str, reply: Reply
    ) -> dict[str, Any]:
        personal: PersonalMessages = platform  # type: ignore[assignment]
        if not hasattr(platform, "direct_message"):
            raise SendError(f"{platform.name} cannot send direct messages", permanent=True)
        posted = await personal.direct_message(user=user, reply=reply)
        result = _posted(posted, posted.channel or user)
        where = page.threads.get(platform.name)
        if self._mention and where is not None and page.action == "trigger":
            # The channel sees who is paged; the direct message is what counts.
            note = Reply.text(
                f"📟 Paging for {display_id(page.incident.id)} ({page.context.policy}, "
                f"level {page.context.level})",
                incident_id=page.incident.id,
            )
            try:
                await personal.mention(
                    channel=where[0],
                    thread_id=where[1],
                    user=user,
                    name=page.person or user,
                    reply=note,
                )
                result["mentioned"] = True
            except Exception as error:
                log.warning("could not @mention a paged person", extra={"error": repr(error)})
                result["mentioned"] = False
        return result

    async def _fold(self, platform: ChatPlatform, page: Outgoing, reply: Reply) -> dict[str, Any]:
        earlier = page.earlier or {}
        channel, message = earlier.get("channel"), earlier.get("message_id")
        if not channel or not message:
            raise SendError("the earlier page has no message to fold into", permanent=True)
        await platform.update(channel=str(channel), message_id=str(message), reply=reply)
        return {"channel": channel, "message_id": message, "folded_into": earlier.get("page")}

    # --- machines ---

    async def _pagerduty_event(self, page: Outgoing, now: datetime) -> dict[str, Any]:
        name = page.recipient.partition(":")[2]
        client = self._pagerduty.get(name)
        if client is None:
            raise SendError(
                "PagerDuty has no routing key here (PAGERDUTY_ROUTING_KEY"
                + (f" or notify.pagerduty.routing_keys.{name}" if name else "")
                + ")",
                permanent=True,
            )
        incident = page.incident
        if page.action == "acknowledge":
            return {"dedup_key": await client.acknowledge(incident.id)}
        if page.action == "resolve":
            return {"dedup_key": await client.resolve(incident.id)}
        details: dict[str, Any] = {
            "incident": display_id(incident.id),
            "status": incident.status,
            "service": incident.service,
            "alerts": page.facts.alerts,
            "firing": page.facts.firing,
            "escalation": page_lines(incident, page.facts, page.context, now)[0],
        }
        if page.facts.summary:
            details["summary"] = page.facts.summary[:1000]
        event = TriggerEvent(
            incident_id=incident.id,
            summary=headline(incident),
            source=incident.service or "lookout",
            severity=incident.severity,
            timestamp=incident.first_alert_at,
            component=incident.service,
            group=page.team,
            details=details,
            links=page.alert_links,
        )
        return {"dedup_key": await client.trigger(event)}

    async def _webhook(self, page: Outgoing, now: datetime) -> dict[str, Any]:
        name = page.recipient.partition(":")[2]
        target = self._webhooks.get(name)
        if target is None or self._webhook_sender is None:
            raise SendError(f"no webhook {name!r} under notify.webhooks", permanent=True)
        incident = page.incident
        document = {
            "event": f"incident.{'sla_breached' if page.action == 'breach' else 'escalated'}",
            "delivery": page.key,
            "sent_at": now.isoformat(),
            "incident": {
                "id": display_id(incident.id),
                "title": incident.title,
                "severity": incident.severity,
                "status": incident.status,
                "service": incident.service,
                "episode": incident.episode,
                "opened_at": incident.opened_at.isoformat(),
                "alerts": page.facts.alerts,
                "firing": page.facts.firing,
                "summary": page.facts.summary,
            },
            "escalation": {
                "policy": page.context.policy,
                "level": page.context.level,
                "levels": page.context.levels,
                "repeat": page.context.cycle,
                "note": page.context.note,
            },
            "target": f"webhook:{name}",
        }
        status = await self._webhook_sender.send(
            name=name,
            url=target.url,
            secret=target.secret,
            document=document,
            delivery=page.key,
            now=now,
        )
        return {"status": status}

    async def _send_email(self, page: Outgoing, now: datetime) -> dict[str, Any]:
        if self._email is None:
            raise SendError("email is not configured (LOOKOUT_SMTP_URL)", permanent=True)
        address = page.recipient.partition(":")[2]
        lines = page_lines(page.incident, page.facts, page.context, now)
        title = headline(page.incident)
        link = page.alert_links[0] if page.alert_links else None
        message_id = await self._email.send(
            to=address,
            subject=subject(page.incident, page.context),
            text="\n\n".join([title, *lines]),
            html_body=html_page(title, lines, link),
        )
        return {"message_id": message_id}


def _posted(posted: PostedMessage, channel: str) -> dict[str, Any]:
    return {"channel": posted.channel or channel, "message_id": posted.message_id}
