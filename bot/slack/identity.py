"""Who Lookout is in Slack: auth.test, asked once for the process instead of per request.

Bolt's single-workspace authorization asks auth.test on the first requests and keeps the
answer; until one comes back every request asks again, each over a new connection. This
authorizer asks at start (and, if Slack could not answer then, once for all the requests
waiting), and gives every request the same answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackIdentity(AsyncAuthorize):
    """Bolt's `authorize` for one workspace and a static token (bot `xoxb-` or user `xoxp-`).

    The result is built as Bolt's own single-workspace authorization builds it
    (slack_bolt/middleware/authorization/internals.py, `_to_authorize_result`): the bot's
    ids and token for a bot token, the requesting user's id otherwise.
    """

    def __init__(self, client: AsyncWebClient, token: str) -> None:
        self._client = client
        self._token = token
        self._answer: dict[str, Any] | None = None
        self._scopes: str | None = None
        self._asking = asyncio.Lock()

    async def prepare(self) -> None:
        """Ask now, so no request waits for it; a failure is logged and asked again later."""
        try:
            await self._auth_test()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "Slack's auth.test failed; asking again on the next request",
                extra={"error": repr(error)},
            )

    async def _auth_test(self) -> dict[str, Any]:
        if self._answer is None:
            async with self._asking:  # one question for all the requests that wait
                if self._answer is None:
                    response = await self._client.auth_test(token=self._token)
                    self._scopes = response.headers.get("x-oauth-scopes")
                    self._answer = dict(response.data) if isinstance(response.data, dict) else {}
        return self._answer

    async def __call__(
        self,
        *,
        context: Any,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        """The request's authorization; None (Bolt answers that it is not authorized) when
        Slack refuses the token."""
        try:
            answer = await self._auth_test()
        except SlackApiError as error:
            log.error("Slack refused the bot token", extra={"error": repr(error)})
            return None
        bot = self._token.startswith("xoxb-")
        return AuthorizeResult(
            enterprise_id=answer.get("enterprise_id"),
            team_id=answer.get("team_id"),
            bot_id=answer.get("bot_id"),
            bot_user_id=answer.get("user_id") if bot else None,
            bot_token=self._token if bot else None,
            user_id=user_id or (None if bot else answer.get("user_id")),
            user_token=None if bot else self._token,
            bot_scopes=self._scopes if bot else None,
            user_scopes=None if bot else self._scopes,
        )
