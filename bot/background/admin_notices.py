"""Telling admins, once, that a platform refuses Lookout for good.

A channel archived, Lookout removed from a team, a revoked token: no retry will fix these,
so the notifier stops trying and says so in the admin channel of every platform (one of them
is the console, which always works). The problem is recorded with the message (a unique key,
so replicas and restarts say it once); when that channel — or, for app-wide problems, the
platform — delivers again, the record goes, and a recurrence is told again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.platforms import ChatPlatform, DeliveryError
from skills.contract import Reply
from storage.database import Database

log = logging.getLogger(__name__)


def notice_text(platform: str, channel: str, error: DeliveryError, waiting: str) -> str:
    """One message: what fails where, why, what waits, what to do."""
    where = f"in `{error.channel}`" if error.channel else "at all"
    hint = f"\nTo fix it: {error.hint}." if error.hint else ""
    return (
        f"⚠️ **Lookout cannot post {where} on {platform.capitalize()}** "
        f"(`{error.code or error.reason}`). {waiting} waits until that changes; "
        f"nothing is retried until then.{hint}"
    )


class AdminNotices:
    def __init__(
        self,
        database: Database,
        platforms: Callable[[], Sequence[ChatPlatform]],
        admin_channel_for: Callable[[str], str] | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._database = database
        self._platforms = platforms
        self._admin_channel_for = admin_channel_for
        self._clock = clock

    async def tell_once(
        self, *, platform: str, channel: str, error: DeliveryError, waiting: str
    ) -> bool:
        """Post the problem to every platform's admin channel unless it was told already.
        True when it was told now."""
        text = notice_text(platform, channel, error, waiting)
        key = f"{error.code or error.reason}:{error.channel or '*'}"
        async with self._database.unit_of_work() as uow:
            first = await uow.notices.first_time(
                platform=platform, key=key, channel=error.channel, text=text, now=self._clock()
            )
        if not first:
            return False
        log.error("told admins of a delivery problem", extra={"platform": platform, "key": key})
        if self._admin_channel_for is None:
            return True
        reply = Reply.text(text, visibility="channel")
        for target in self._platforms():
            try:
                await target.post(channel=self._admin_channel_for(target.name), reply=reply)
            except Exception as failure:
                log.warning(
                    "could not tell an admin channel",
                    extra={"platform": target.name, "error": repr(failure)},
                )
        return True

    async def clear(self, *, platform: str, channels: Sequence[str]) -> None:
        """Those channels deliver again: forget what was told about them (and app-wide)."""
        async with self._database.unit_of_work() as uow:
            for channel in dict.fromkeys(channels):
                await uow.notices.clear(platform=platform, channel=channel)
