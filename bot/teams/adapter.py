"""Microsoft Teams plugged into the process: `POST /api/messages`, Bot Framework auth, the bot.

Incoming requests are authenticated by botframework-connector's own JWT validation (OpenID
metadata, signing keys with the `msteams` endorsement, issuer, audience = our app id, and the
`serviceurl` claim), before anything else reads the activity; any failure is a 401.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticationConstants,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    PasswordServiceClientCredentialFactory,
    ServiceClientCredentialsFactory,
)
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bot.bodies import MAX_BODY, BodyTooLarge, parse_json, read_body
from bot.metrics import Metrics
from bot.openapi_bodies import TEAMS
from bot.settings import Settings
from bot.teams.activities import shape_problem
from bot.teams.bot import LookoutTeamsBot
from bot.teams.credentials import ReusedCredentialFactory
from bot.teams.groups import AadGroups, group_ids
from bot.teams.people import TeamsPeople
from bot.teams.platform import TeamsPlatform
from bot.teams.retry import RetryPolicy
from skills.dispatcher import Dispatcher
from storage.database import Database

log = logging.getLogger(__name__)

INSECURE_WARNING = (
    "LOOKOUT_TEAMS_INSECURE_DEV=1: Bot Framework authentication is OFF. Anyone who can reach "
    "/api/messages can act as any Teams user. Use this with the local Bot Framework Emulator "
    "only, never on a reachable host."
)


def bot_framework_authentication(
    *,
    credentials: ServiceClientCredentialsFactory,
    openid_metadata_url: str | None = None,
) -> BotFrameworkAuthentication:
    """The public Azure cloud's endpoints, spelled out so the OpenID metadata can point
    elsewhere (a sovereign cloud, or a local fake in tests) without touching SDK globals."""
    return BotFrameworkAuthenticationFactory.create(
        validate_authority=True,
        to_channel_from_bot_login_url=AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
        to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        to_bot_from_channel_token_issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        oauth_url=AuthenticationConstants.OAUTH_URL,
        to_bot_from_channel_open_id_metadata_url=(
            openid_metadata_url or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        ),
        to_bot_from_emulator_open_id_metadata_url=(
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        ),
        caller_id=CallerIdConstants.public_azure_channel.value,
        credential_factory=credentials,
    )


class TeamsAdapter:
    def __init__(
        self,
        *,
        app_id: str | None,
        tenant_id: str | None,
        credentials: ServiceClientCredentialsFactory,
        dispatcher: Dispatcher,
        database: Database,
        metrics: Metrics,
        insecure_dev: bool = False,
        openid_metadata_url: str | None = None,
        retry: RetryPolicy | None = None,
        groups: AadGroups | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_change` is called when messages held back may go out now (the notifier's
        wake): Lookout was added back where it had been removed."""
        self._app_id = app_id
        self._groups = groups
        self._tenant_id = tenant_id
        self._insecure_dev = insecure_dev
        self._metrics = metrics
        self.authentication = bot_framework_authentication(
            credentials=ReusedCredentialFactory(credentials),
            openid_metadata_url=openid_metadata_url,
        )
        self.cloud_adapter = CloudAdapter(self.authentication)
        retry = retry or RetryPolicy()
        self._platform = TeamsPlatform(
            adapter=self.cloud_adapter, app_id=app_id, database=database, retry=retry
        )
        self.bot = LookoutTeamsBot(
            dispatcher=dispatcher,
            database=database,
            platform=self._platform,
            retry=retry,
            people=TeamsPeople(tenant_id=tenant_id, groups=groups, cap_unknown=not insecure_dev),
            on_change=on_change,
        )
        if insecure_dev:
            log.warning(INSECURE_WARNING)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        dispatcher: Dispatcher,
        database: Database,
        metrics: Metrics,
        openid_metadata_url: str | None = None,
        credentials: ServiceClientCredentialsFactory | None = None,
        retry: RetryPolicy | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> TeamsAdapter:
        """`openid_metadata_url`, `credentials` and `retry` exist for tests, which point the
        SDK at local fakes of Microsoft's login service; production takes the defaults.
        `on_change` as for the constructor."""
        insecure = settings.teams_insecure_dev
        # With auth off the bot has no identity: it accepts unsigned requests and sends
        # unsigned replies, which is what the Emulator expects without an app id.
        app_id = None if insecure else settings.teams_app_id
        if not insecure and not (app_id or "").strip():
            # The SDK takes an app without an id for one with auth turned off.
            raise ValueError(
                "TEAMS_APP_ID is empty: set it, or LOOKOUT_TEAMS_INSECURE_DEV for the Emulator"
            )
        password = settings.teams_app_password
        if app_id and password is None:
            log.warning("TEAMS_APP_PASSWORD is not set: Lookout cannot answer in Teams")
        if credentials is None:
            credentials = PasswordServiceClientCredentialFactory(
                app_id=app_id,
                password=password.get_secret_value() if password and app_id else None,
                tenant_id=settings.teams_tenant_id,
            )
        groups = None
        if app_id and password is not None and settings.teams_tenant_id:
            # Azure AD groups, asked of Graph only for people whom a project's group names.
            groups = AadGroups(
                httpx.AsyncClient(timeout=10),
                tenant_id=settings.teams_tenant_id,
                app_id=app_id,
                app_password=password.get_secret_value(),
                wanted=lambda: group_ids(dispatcher.group_names),
                graph_url=settings.teams_graph_url,
                login_url=settings.teams_login_url,
            )
        return cls(
            app_id=app_id,
            tenant_id=settings.teams_tenant_id,
            credentials=credentials,
            dispatcher=dispatcher,
            database=database,
            metrics=metrics,
            insecure_dev=insecure,
            openid_metadata_url=openid_metadata_url,
            retry=retry,
            groups=groups,
            on_change=on_change,
        )

    @property
    def platform(self) -> TeamsPlatform:
        return self._platform

    def routes(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(
            "/api/messages", self.messages, methods=["POST"], tags=["teams"], openapi_extra=TEAMS
        )
        return router

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._groups is not None:
            await self._groups.close()

    async def messages(self, request: Request) -> Response:
        """Bot Framework's messaging endpoint: authenticate, run the turn, answer invokes."""
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            return JSONResponse({"error": f"the body is larger than {MAX_BODY} bytes"}, 413)
        try:
            body = parse_json(raw)
            activity = Activity().deserialize(body)
        except Exception:
            return JSONResponse({"error": "the body is not a Bot Framework activity"}, 400)
        if not isinstance(body, dict) or not activity.type:
            return JSONResponse({"error": "the body is not a Bot Framework activity"}, 400)
        if (problem := shape_problem(activity)) is not None:
            return JSONResponse(
                {"error": f"the body is not a Bot Framework activity: {problem}"}, 400
            )
        auth_header = request.headers.get("Authorization")
        try:
            authenticated = await self.authentication.authenticate_request(activity, auth_header)
        except Exception as error:
            # PermissionError for a bad claim, but also jwt errors, unknown key ids, or the
            # OpenID metadata being unreachable: none of them lets the request in.
            log.warning("rejected a Teams request: %s", error)
            return JSONResponse({"error": "unauthorized"}, 401)
        if self._tenant_id and not self._insecure_dev and _tenant(body) != self._tenant_id:
            log.warning(
                "rejected a Teams request from another tenant", extra={"tenant": _tenant(body)}
            )
            return JSONResponse({"error": "this bot serves one tenant"}, 403)
        try:
            invoke = await self.cloud_adapter.process_activity(
                authenticated, activity, self.bot.on_turn
            )
        except Exception:
            self._metrics.errors.labels(where="teams").inc()
            log.exception("a Teams turn failed", extra={"activity_type": activity.type})
            return JSONResponse({"error": "the bot failed; see Lookout's log"}, 500)
        if invoke is not None:
            return JSONResponse(invoke.body, status_code=invoke.status or 200)
        return Response(status_code=200)


def _tenant(body: dict[str, Any]) -> str | None:
    channel_data = body.get("channelData") or {}
    tenant = (
        (channel_data.get("tenant") or {}).get("id") if isinstance(channel_data, dict) else None
    )
    return tenant or (body.get("conversation") or {}).get("tenantId")
