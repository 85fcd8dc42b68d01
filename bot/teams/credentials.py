"""The bot's outgoing credentials, made once and kept warm off the event loop.

botframework-connector builds new credentials (a new MSAL app, so an empty token cache) for
every turn, and the connector client asks them for a token synchronously, inside the event
loop: each reply would block the process on a round trip to Microsoft's login service. Here
the credentials are reused, and the token is fetched (or refreshed) in a worker thread before
the connector asks for it, so the call on the loop is answered from MSAL's cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botframework.connector.auth import ServiceClientCredentialsFactory


class ReusedCredentialFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self._inner = inner
        self._made: dict[tuple[Any, ...], Any] = {}
        self._lock = asyncio.Lock()

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        async with self._lock:
            credentials = self._made.get(key)
            if credentials is None:
                credentials = await self._inner.create_credentials(
                    app_id, oauth_scope, login_endpoint, validate_authority
                )
                self._made[key] = credentials
        if getattr(credentials, "microsoft_app_id", None):
            # Unsigned (auth off) credentials have no app id and nothing to fetch.
            await asyncio.to_thread(credentials.get_access_token)
        return credentials
