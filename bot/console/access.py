"""Who may use the console, and as whom (LOOKOUT_CONSOLE_AUTH).

- `local` (the default): loopback clients only; the page's "You are" picker names the user,
  a convenience for one person trying Lookout on their own machine.
- `proxy`: behind an authenticating reverse proxy (oauth2-proxy and the like). The user is
  the header the proxy sets (`X-Forwarded-User` unless LOOKOUT_CONSOLE_USER_HEADER says
  otherwise), taken only from LOOKOUT_TRUSTED_PROXIES; the user a request body names is ignored.
- `none`: anyone who can reach the port, as anyone; for a demo on one's own machine only.

The gate covers the page (`/`) and everything under `/console`; the webhooks keep their own
authentication.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from bot.settings import Settings

Mode = Literal["local", "proxy", "none"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where the signed-in user of a request is kept in its ASGI scope (None: the body names it).
USER_KEY = "lookout.console_user"
USER_PATTERN = re.compile(r"^[\w.@+-]{1,64}$")

NONE_WARNING = (
    "LOOKOUT_CONSOLE_AUTH=none: the console is open to anyone who can reach this port, and "
    "anyone can act as any user, admins included. Use it for a demo on your own machine only, "
    "never on a reachable host."
)
_LOCAL_HINT = (
    "behind an authenticating proxy set LOOKOUT_CONSOLE_AUTH=proxy; for a demo on your own "
    "machine (Docker included) LOOKOUT_CONSOLE_AUTH=none"
)


class ConsoleRefused(Exception):
    """A request the console does not serve: `status` 401 or 403 and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def is_console_path(path: str) -> bool:
    """The console page `/` and everything under `/console` (API, stream, static files)."""
    return path == "/" or path == "/console" or path.startswith("/console/")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: `10.0.0.1`, `[::1]:443`, `"[::1]"`, `10.0.0.1:80`."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_for(headers: Headers) -> list[str]:
    """The client addresses a proxy named: X-Forwarded-For, X-Real-IP and Forwarded `for=`."""
    named = [
        part.strip() for value in headers.getlist("x-forwarded-for") for part in value.split(",")
    ]
    named += [value.strip() for value in headers.getlist("x-real-ip")]
    for value in headers.getlist("forwarded"):
        for element in value.split(","):
            for pair in element.split(";"):
                key, _, item = pair.strip().partition("=")
                if key.lower() == "for":
                    named.append(item)
    return [name for name in named if name]


@dataclass(frozen=True)
class ConsoleAccess:
    """The console's access rule, from LOOKOUT_CONSOLE_AUTH and its companions."""

    mode: Mode = "local"
    user_header: str = "X-Forwarded-User"
    trusted: tuple[Network, ...] = (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleAccess:
        return cls(
            mode=settings.console_auth,
            user_header=settings.console_user_header,
            trusted=settings.trusted_networks,
        )

    def admit(self, peer: str | None, headers: Headers) -> str | None:
        """The user a request acts as (None: the one its body names), for the TCP peer's
        address `peer`; raises ConsoleRefused (401/403 with the reason) for anyone else."""
        if self.mode == "none":
            return None
        address = _address(peer) if peer else None
        if self.mode == "local":
            if address is None or not address.is_loopback:
                raise ConsoleRefused(
                    403, f"the console answers loopback clients only, not {peer}; {_LOCAL_HINT}"
                )
            for name in forwarded_for(headers):
                relayed = _address(name)
                if relayed is None or not relayed.is_loopback:
                    raise ConsoleRefused(
                        403,
                        f"this request was relayed by a proxy for {name}; the console answers "
                        f"loopback clients only; {_LOCAL_HINT}",
                    )
            return None
        if address is None or not any(address in network for network in self.trusted):
            raise ConsoleRefused(
                403,
                f"{peer} is not a trusted proxy (LOOKOUT_TRUSTED_PROXIES): the console is "
                "served through its authenticating proxy only",
            )
        user = (headers.get(self.user_header) or "").strip()
        if not user:
            raise ConsoleRefused(
                401, f"no {self.user_header} header: sign in through the proxy in front of Lookout"
            )
        if not USER_PATTERN.match(user):
            raise ConsoleRefused(
                401,
                f"the {self.user_header} header is not a user name "
                "(1–64 letters, digits and . _ @ + -)",
            )
        return user


class ConsoleGate:
    """ASGI middleware: requests for the console pass `ConsoleAccess.admit` or get its
    401/403 with the reason as `{"detail": …}`; the admitted user is in `scope[USER_KEY]`.
    It must see the TCP peer, so it runs before any proxy-header rewriting."""

    def __init__(self, app: ASGIApp, access: ConsoleAccess) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and is_console_path(scope["path"]):
            client = scope.get("client")
            try:
                user = self.access.admit(client[0] if client else None, Headers(scope=scope))
            except ConsoleRefused as refusal:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": refusal.reason})
                    return
                response = JSONResponse({"detail": refusal.reason}, status_code=refusal.status)
                await response(scope, receive, send)
                return
            scope[USER_KEY] = user
        await self.app(scope, receive, send)


def signed_in_user(scope: Scope) -> str | None:
    """The user the proxy named for this request, or None where the body names it."""
    user = scope.get(USER_KEY)
    return user if isinstance(user, str) else None
