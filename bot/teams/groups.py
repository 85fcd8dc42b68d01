"""Which Azure AD groups a Teams user is in, for projects that give roles by group.

Microsoft Graph's `POST /v1.0/users/{id}/checkMemberGroups` (learn.microsoft.com/graph/api/
directoryobject-checkmembergroups) answers which of up to 20 given group ids the user is a
member of, transitively. The app authenticates with the OAuth 2.0 client-credentials grant
(RFC 6749 §4.4) against the tenant's token endpoint, scope `https://graph.microsoft.com/
.default`; the app registration needs the `GroupMember.Read.All` application permission.
Answers are kept for five minutes per person; when Graph cannot say, the person has the roles
their id gives them, and that is logged.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable

import httpx

log = logging.getLogger(__name__)

GRAPH_URL = "https://graph.microsoft.com"
LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GROUPS_TTL = 300.0
MAX_PEOPLE = 10_000
CHECK_LIMIT = 20  # group ids per checkMemberGroups request


def group_ids(names: Iterable[str]) -> tuple[str, ...]:
    """The names that are Azure AD object ids (GUIDs); others are Slack groups."""
    found: list[str] = []
    for name in names:
        try:
            found.append(str(uuid.UUID(name)))
        except ValueError:
            continue
    return tuple(dict.fromkeys(found))


class AadGroups:
    """`of(aad_object_id)`: the wanted groups (`wanted()`, GUIDs) the user is in."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant_id: str,
        app_id: str,
        app_password: str,
        wanted: Callable[[], tuple[str, ...]],
        graph_url: str = GRAPH_URL,
        login_url: str = LOGIN_URL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = f"{login_url.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self._graph_url = graph_url.rstrip("/")
        self._app_id = app_id
        self._app_password = app_password
        self._wanted = wanted
        self._clock = clock
        self._token: tuple[str, float] | None = None
        self._known: dict[str, tuple[tuple[str, ...], float]] = {}

    async def close(self) -> None:
        await self._http.aclose()

    async def of(self, aad_object_id: str) -> tuple[str, ...]:
        """The wanted group ids `aad_object_id` is a member of; () when Graph cannot say."""
        wanted = self._wanted()
        if not wanted or not aad_object_id:
            return ()
        now = self._clock()
        cached = self._known.get(aad_object_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            found = await self._check(aad_object_id, wanted)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            log.warning(
                "could not read a Teams user's Azure AD groups",
                extra={"user": aad_object_id, "error": repr(error)},
            )
            found = ()
        if len(self._known) > MAX_PEOPLE:
            self._known.clear()
        self._known[aad_object_id] = (found, now + GROUPS_TTL)
        return found

    async def _check(self, user: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
        token = await self._access_token()
        found: list[str] = []
        for start in range(0, len(wanted), CHECK_LIMIT):
            response = await self._http.post(
                f"{self._graph_url}/v1.0/users/{user}/checkMemberGroups",
                json={"groupIds": list(wanted[start : start + CHECK_LIMIT])},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            found.extend(str(group) for group in response.json()["value"])
        return tuple(group for group in wanted if group in found)

    async def _access_token(self) -> str:
        if self._token is not None and self._token[1] > self._clock():
            return self._token[0]
        response = await self._http.post(
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._app_id,
                "client_secret": self._app_password,
                "scope": GRAPH_SCOPE,
            },
        )
        response.raise_for_status()
        answer = response.json()
        token = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or 300)
        self._token = (token, self._clock() + max(lifetime - 60, 30))
        return token
