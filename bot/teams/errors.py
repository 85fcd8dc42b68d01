"""Bot Connector errors, as Microsoft documents them, sorted into what Lookout does next.

The table is "Status codes from bot conversational APIs" (learn.microsoft.com/microsoftteams/
platform/bots/build-conversational-capability): every error answers
`{"error": {"code": "<Code>", "message": "…"}}` with an HTTP status, and the page says which
may be retried — 412, 429 (after Retry-After), 502, 503 and 504 only; a bot should not retry
anything else. A code the page does not list is sorted by its status the same way.
"""

from __future__ import annotations

import json
from typing import Any

from bot.platforms import DeliveryError, RateLimited
from bot.teams.retry import http_status, retry_after

# Lookout cannot speak in the conversation until someone adds it (or writes to it) again.
CONVERSATION_GONE = {
    "BotNotInConversationRoster": "add the Lookout app to that team or chat again",
    "ConversationBlockedByUser": "the person unblocks Lookout and writes to it",
    "BotDisabledByAdmin": "a Teams admin allows the Lookout app (app permission policies)",
    "ConversationNotFound": "route to a channel that exists, then @mention Lookout there",
}
# The activity to edit, or the post to reply to, is gone: post it anew.
MESSAGE_GONE = frozenset({"ActivityNotFoundInConversation"})
# This message was refused; a smaller one may pass.
REFUSED_CONTENT = frozenset({"BadArgument", "Bad Argument", "BadSyntax", "MessageSizeTooBig"})
# Asking again will never work, anywhere: the app's registration or the service URL.
PERMANENT = {
    "BotNotRegistered": "check TEAMS_APP_ID and that the Azure Bot has the Teams channel",
    "InvalidBotApiHost": "this is a GCC tenant: its conversations need the GCC service URL",
    "NotEnoughPermissions": "give the Lookout app the permission the error names",
    "ServiceError": None,
}
RETRIED_STATUSES = frozenset({412, 429, 502, 503, 504})


def error_code(error: BaseException) -> str | None:
    """The `error.code` of a Bot Connector error body (also a bare `{"error": "<Code>"}`)."""
    response = getattr(error, "response", None)
    text = getattr(response, "text", None)
    if callable(text):  # aiohttp-style responses
        return None
    try:
        body: Any = json.loads(text) if isinstance(text, str | bytes) and text else None
    except ValueError:
        return None
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("code"):
            return str(inner["code"])
        if isinstance(inner, str) and inner:
            return inner
    return None


def delivery_error(
    error: BaseException, *, what: str, method: str, channel: str, about_message: bool = False
) -> DeliveryError | RateLimited | None:
    """What a connector error means for the message, or None when it is worth retrying
    (412, 502–504, a dropped connection). `about_message`: a 404 without a known code means
    the activity edited or replied to is gone, not the conversation."""
    status = http_status(error)
    if status is None:
        return None
    code = error_code(error)
    if status == 429:
        return RateLimited(method=method, channel=channel, retry_after=retry_after(error) or 1.0)
    if status in RETRIED_STATUSES:
        return None
    label = code or str(status)
    if code in CONVERSATION_GONE or (code is None and status == 404 and not about_message):
        return DeliveryError(
            f"Teams cannot take the {what} ({status} {label})",
            gone="conversation",
            code=label,
            channel=channel,
            hint=CONVERSATION_GONE.get(code or ""),
        )
    if code in MESSAGE_GONE or (code is None and status == 404):
        return DeliveryError(
            f"Teams cannot find the message ({status} {label})",
            gone="message",
            code=label,
            channel=channel,
        )
    if code in REFUSED_CONTENT or (code is None and status in (400, 413)):
        return DeliveryError(
            f"Teams refused the {what} ({status} {label})",
            refused_content=True,
            code=label,
            channel=channel,
        )
    return DeliveryError(
        f"Teams cannot take the {what} ({status} {label})",
        permanent=True,
        code=label,
        channel=channel if status == 403 else None,  # 401 and 500: the whole app
        hint=PERMANENT.get(code or ""),
    )
