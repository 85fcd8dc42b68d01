"""Local fakes of Microsoft's side of Teams, speaking the real wire protocols on loopback.

- `FakeIdentity`: the Bot Framework OpenID metadata and its JWKS (a locally generated RSA key,
  endorsed for `msteams`), plus an OAuth 2 client-credentials token endpoint for the bot's
  outgoing token; `sign()` issues the JWT Teams puts in `Authorization`.
- `FakeBotConnector`: the Bot Connector REST API (`/v3/conversations/…`) that `serviceUrl`
  points to; it records every request and can answer 429 or 5xx for the next N calls.

Both run in threads of their own: the SDK fetches OpenID metadata and tokens with blocking
`requests` calls from inside the event loop, which a fake on that same loop could never answer.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import jwt
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose requests go to `handle`."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = owner.handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeIdentity(_Server):
    """login.botframework.com (OpenID + keys) and login.microsoftonline.com (tokens)."""

    def __init__(self, *, app_id: str, app_password: str) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_password = app_password
        self.key = new_rsa_key()
        self.key_id = "lookout-test-key"
        self.issued_tokens: list[str] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.metadata_fetches = 0
        self._lock = threading.Lock()

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def token_url(self) -> str:
        return f"{self.url}/botframework.com/oauth2/v2.0/token"

    def jwk(self) -> dict[str, Any]:
        key: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**key, "kid": self.key_id, "use": "sig", "endorsements": ["msteams"]}

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path == "/v1/.well-known/openidconfiguration":
            with self._lock:
                self.metadata_fetches += 1
            return (
                200,
                {},
                {
                    "issuer": BOT_FRAMEWORK_ISSUER,
                    "authorization_endpoint": "https://invalid.botframework.com",
                    "jwks_uri": f"{self.url}/v1/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                },
            )
        if method == "GET" and path == "/v1/keys":
            return 200, {}, {"keys": [self.jwk()]}
        if method == "POST" and path == "/botframework.com/oauth2/v2.0/token":
            form = parse_qs(body.decode())
            with self._lock:
                self.token_requests.append(form)
            if (
                form.get("grant_type") != ["client_credentials"]
                or form.get("client_id") != [self.app_id]
                or form.get("client_secret") != [self.app_password]
            ):
                return 401, {}, {"error": "invalid_client"}
            token = f"bot-token-{uuid.uuid4().hex}"
            with self._lock:
                self.issued_tokens.append(token)
            return 200, {}, {"token_type": "Bearer", "expires_in": 3600, "access_token": token}
        return 404, {}, {"error": f"no {method} {path}"}

    def sign(
        self,
        *,
        service_url: str,
        audience: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        key_id: str | None = None,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        expires_in: int = 3600,
    ) -> str:
        """A token as the Bot Framework Service sends to a bot."""
        now = int(time.time())
        claims = {
            "serviceurl": service_url,
            "nbf": now - 10,
            "exp": now + expires_in,
            "iss": issuer,
            "aud": audience or self.app_id,
        }
        return jwt.encode(
            claims,
            key or self.key,
            algorithm="RS256",
            headers={"kid": key_id or self.key_id, "typ": "JWT"},
        )


class LoopbackAppCredentials(AppCredentials):  # type: ignore[misc]
    """The bot's outgoing credentials: an OAuth 2 client-credentials grant, like MSAL does, but
    against the fake token endpoint (MSAL insists on https and asks login.microsoftonline.com
    to validate the authority, neither of which can happen on loopback)."""

    def __init__(self, *, app_id: str, password: str, token_url: str, oauth_scope: str) -> None:
        super().__init__(app_id=app_id, oauth_scope=oauth_scope)
        self._password = password
        self._token_url = token_url
        self._token: str | None = None

    def get_access_token(self, force_refresh: bool = False) -> str:
        if self._token is None or force_refresh:
            response = httpx.post(
                self._token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.microsoft_app_id,
                    "client_secret": self._password,
                    "scope": f"{self.oauth_scope}/.default",
                },
                timeout=10,
            )
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token


class LoopbackCredentialFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Like PasswordServiceClientCredentialFactory, minted against the fake token endpoint."""

    def __init__(self, identity: FakeIdentity) -> None:
        self._identity = identity

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(app_id == self._identity.app_id)

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        if not await self.is_valid_app_id(app_id):
            raise PermissionError(f"invalid app id {app_id!r}")
        return LoopbackAppCredentials(
            app_id=app_id,
            password=self._identity.app_password,
            token_url=self._identity.token_url,
            oauth_scope=oauth_scope,
        )


@dataclass
class ConnectorRequest:
    method: str
    path: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]
    authorization: str | None
    status: int
    at: float
    answered_id: str | None = None

    @property
    def kind(self) -> str:
        """post (new message), reply (to an activity), update, or other."""
        if self.method == "POST" and self.activity_id is None:
            return "post"
        if self.method == "POST":
            return "reply"
        if self.method == "PUT":
            return "update"
        return self.method.lower()

    @property
    def texts(self) -> list[str]:
        return activity_texts(self.body)


def activity_texts(activity: dict[str, Any]) -> list[str]:
    """Every TextBlock text and fact of the activity's cards (and its plain text)."""
    found: list[str] = [activity["text"]] if activity.get("text") else []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node.get("text", ""))
            if node.get("type") == "FactSet":
                found.extend(f"{f['title']}: {f['value']}" for f in node.get("facts", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for attachment in activity.get("attachments") or []:
        walk(attachment.get("content"))
    return found


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    code: str | None


# The error code Microsoft's table gives each status ("Status codes from bot conversational
# APIs"); 503 and 504 come from the gateway without one.
STATUS_CODES = {
    400: "BadArgument",
    401: "BotNotRegistered",
    403: "BotNotInConversationRoster",
    404: "ConversationNotFound",
    412: "PreconditionFailed",
    413: "MessageSizeTooBig",
    429: "Throttled",
    500: "ServiceError",
    502: "ServiceError",
}
MESSAGES = {
    "BadArgument": "Malformed request payload",
    "BotNotRegistered": "No registration found for this bot.",
    "BotDisabledByAdmin": "The tenant admin disabled this bot",
    "BotNotInConversationRoster": "The bot is not part of the conversation roster.",
    "ConversationBlockedByUser": "User blocked the conversation with the bot.",
    "InvalidBotApiHost": "Invalid bot api host. For GCC tenants, please call "
    "https://smba.infra.gcc.teams.microsoft.com.",
    "NotEnoughPermissions": "Bot does not have the required permissions",
    "ActivityNotFoundInConversation": "Conversation not found.",
    "ConversationNotFound": "Conversation not found.",
    "PreconditionFailed": "Precondition failed, please try again.",
    "MessageSizeTooBig": "Message size too large.",
    "Throttled": "Too many requests.",
    "ServiceError": "Unknown error",
}


def error_body(status: int, code: str | None) -> dict[str, Any]:
    """A Bot Connector error as Teams answers it."""
    code = code or STATUS_CODES.get(status)
    if code is None:
        return {"error": {"message": f"HTTP {status}"}}
    return {"error": {"code": code, "message": MESSAGES.get(code, code)}}


# The people of the recorded activities, as the roster (GET /v3/conversations/{id}/members/
# {member}) answers for them: members of the recordings' tenant.
RECORDED_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RECORDED_PEOPLE = {
    "29:1CFIxRJBLjT_io3iNsDZxMk_4YPWQmr3DZUM1I6ihf5L2ocCDqg9S1vkHK6kRdGfK1P_2LFE2nQqFIvdu-GBOZA": (
        "Dave Taniguchi",
        "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4",
    ),
    "29:1kbOecyrymSn1FtrbJlQNF_BvhIpb7CLGbmjaTldT8A8tXXphjq4BcA2KfWGwoI-ahbEJ_Og1syGOt68MsLId1Q": (
        "Tien Suwandy",
        "6d415fdd-f97e-4f70-ac45-e69601e4ecb2",
    ),
    "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw": (
        "Megan Bowen",
        "7faf8ab2-3d56-4244-b585-20c8a42ed2b8",
    ),
}


def roster_entry(member_id: str, name: str, aad_object_id: str) -> dict[str, Any]:
    """A TeamsChannelAccount as the roster answers it: a member of the recordings' tenant."""
    return {
        "id": member_id,
        "name": name,
        "aadObjectId": aad_object_id,
        "tenantId": RECORDED_TENANT,
        "userRole": "user",
    }


class FakeBotConnector(_Server):
    """The Bot Connector service under `{url}/amer/` (like smba.trafficmanager.net/amer/)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ConnectorRequest] = []
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1_700_000_000_001)
        # The roster: member id (29:…) → TeamsChannelAccount JSON; others are not found.
        self.members: dict[str, dict[str, Any]] = {
            member_id: roster_entry(member_id, name, aad)
            for member_id, (name, aad) in RECORDED_PEOPLE.items()
        }
        self.member_lookups: list[str] = []
        # A roster that does not answer: every member lookup gets this status and its body.
        self.roster_status: int | None = None
        # Create Conversation calls (direct messages), their ConversationParameters as sent.
        self.created: list[dict[str, Any]] = []
        # Conversations Lookout was removed from (403), activities someone deleted (404).
        self.removed: set[str] = set()
        self.deleted: set[str] = set()

    @property
    def service_url(self) -> str:
        return f"{self.url}/amer/"

    def fail_next(
        self,
        count: int,
        status: int = 503,
        retry_after: str | None = None,
        code: str | None = None,
    ) -> None:
        """The next `count` activity requests fail with `status` and Teams' error body
        (`code`, or the one the table gives that status)."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after, code) for _ in range(count))

    def _member(self, conversation_id: str, member_id: str) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.member_lookups.append(member_id)
            member = self.members.get(member_id)
            down = self.roster_status
        if down is not None:
            return down, {}, error_body(down, None)
        if conversation_id.split(";", 1)[0] in self.removed:
            return 403, {}, error_body(403, "BotNotInConversationRoster")
        if member is None:
            return 404, {}, {"error": {"code": "MemberNotFoundInConversation",
                                       "message": "The member was not found."}}  # fmt: skip
        return 200, {}, member

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parts = path.split("?", 1)[0].split("/")
        # ['', 'amer', 'v3', 'conversations', '{conversation}', 'activities', '{id}'?]
        if method == "POST" and parts[1:] == ["amer", "v3", "conversations"]:
            return self._create_conversation(json.loads(body) if body else {}, headers)
        if parts[1:4] != ["amer", "v3", "conversations"] or len(parts) < 6:
            return 404, {}, {"error": {"code": "NotFound", "message": path}}
        conversation_id = unquote(parts[4])
        if method == "GET" and parts[5] == "members" and len(parts) > 6:
            return self._member(conversation_id, unquote(parts[6]))
        activity_id = unquote(parts[6]) if len(parts) > 6 else None
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            if failure is None and conversation_id.split(";", 1)[0] in self.removed:
                failure = _Failure(403, None, "BotNotInConversationRoster")
            root = (
                conversation_id.split(";messageid=", 1)[1]
                if ";messageid=" in conversation_id
                else None
            )
            if failure is None and method == "PUT" and activity_id in self.deleted:
                failure = _Failure(404, None, "ActivityNotFoundInConversation")
            if failure is None and root is not None and root in self.deleted:
                failure = _Failure(404, None, "ActivityNotFoundInConversation")
            status = failure.status if failure else (200 if method == "PUT" else 201)
            self.requests.append(
                ConnectorRequest(
                    method=method,
                    path=unquote(path),
                    conversation_id=conversation_id,
                    activity_id=activity_id,
                    body=json.loads(body) if body else {},
                    authorization=headers.get("Authorization"),
                    status=status,
                    at=time.monotonic(),
                )
            )
            new_id = str(next(self._ids))
            if failure is None:
                self.requests[-1].answered_id = activity_id if method == "PUT" else new_id
        if failure is not None:
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return failure.status, extra, error_body(failure.status, failure.code)
        if method == "PUT":
            return 200, {}, {"id": activity_id}
        return 201, {}, {"id": new_id}

    def _create_conversation(
        self, parameters: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        """`POST /v3/conversations` (Create Conversation): a 1:1 chat with the one member
        asked for, answered with a ConversationResourceResponse; unknown members are
        refused as Teams does (403 for a user outside the tenant's roster)."""
        members = parameters.get("members") or []
        with self._lock:
            self.created.append(parameters)
            wanted = members[0].get("id") if len(members) == 1 else None
            known = wanted in self.members or any(
                entry.get("aadObjectId") == wanted for entry in self.members.values()
            )
        if wanted is None or not known:
            return 403, {}, {"error": {"code": "BadArgument",
                                       "message": "Failed to create conversation."}}  # fmt: skip
        conversation_id = f"a:1personal-{len(self.created)}-{wanted}"
        return 201, {}, {"id": conversation_id, "serviceUrl": self.service_url}

    def delivered(self, kind: str | None = None) -> list[ConnectorRequest]:
        """Requests the connector accepted (2xx), optionally only posts/replies/updates."""
        with self._lock:
            done = [r for r in self.requests if r.status < 300]
        return [r for r in done if kind is None or r.kind == kind]


class FakeGraph(_Server):
    """Microsoft Graph's checkMemberGroups and the tenant's token endpoint (client
    credentials, scope https://graph.microsoft.com/.default), with group members in
    `members` (group id → AAD object ids)."""

    def __init__(self, *, app_id: str, app_password: str, tenant: str) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_password = app_password
        self.tenant = tenant
        self.members: dict[str, set[str]] = {}
        self.checks: list[tuple[str, list[str]]] = []
        self.tokens: list[str] = []
        self._lock = threading.Lock()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            form = parse_qs(body.decode())
            if (
                form.get("grant_type") != ["client_credentials"]
                or form.get("client_id") != [self.app_id]
                or form.get("client_secret") != [self.app_password]
                or form.get("scope") != ["https://graph.microsoft.com/.default"]
            ):
                return 401, {}, {"error": "invalid_client"}
            token = f"graph-token-{uuid.uuid4().hex}"
            with self._lock:
                self.tokens.append(token)
            return 200, {}, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        prefix, suffix = "/v1.0/users/", "/checkMemberGroups"
        if method == "POST" and path.startswith(prefix) and path.endswith(suffix):
            bearer = headers.get("Authorization", "").removeprefix("Bearer ")
            if bearer not in self.tokens:
                return 401, {}, {"error": {"code": "InvalidAuthenticationToken"}}
            user = path[len(prefix) : -len(suffix)]
            wanted = [str(group) for group in json.loads(body)["groupIds"]]
            with self._lock:
                self.checks.append((user, wanted))
            found = [group for group in wanted if user in self.members.get(group, set())]
            return 200, {}, {"value": found}
        return 404, {}, {"error": f"no {method} {path}"}
