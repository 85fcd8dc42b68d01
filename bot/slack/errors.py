"""Slack Web API errors, as Slack documents them, sorted into what the notifier does next.

Every method answers `{"ok": false, "error": "<code>"}`; the codes below come from the
method pages of chat.postMessage, chat.update, chat.postEphemeral, conversations.history and
the common errors every method shares (api.slack.com/methods), and HTTP 429 with Retry-After
from the rate-limit page (api.slack.com/apis/rate-limits). A code not listed is treated as
transient: retried with backoff a bounded number of times, never forever.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.platforms import DeliveryError, RateLimited

# This message was refused; a smaller or plainer one may pass.
REFUSED_CONTENT = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "too_many_attachments",
        "invalid_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
        "no_text",
        "block_mismatch",
        "slack_connect_file_link_sharing_blocked",
    }
)
# The message to edit, or the thread to answer in, is gone (deleted, or no longer Lookout's
# to edit): post it anew. The first three are chat.update's; the thread ones are what
# chat.postMessage answers for the `thread_ts` of a message that is gone.
MESSAGE_GONE = frozenset(
    {
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "thread_not_found",
        "invalid_thread_ts",
    }
)
# The channel cannot take Lookout's messages until someone changes it.
CHANNEL_GONE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "is_inactive",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
    }
)
# Asking again the same way will never work, anywhere: the token, the app or the call.
PERMANENT = frozenset(
    {
        "cannot_reply_to_message",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        "team_access_not_granted",
        "org_login_required",
        "access_denied",
        "accesslimited",
        "enterprise_is_restricted",
        "two_factor_setup_required",
        "as_user_not_supported",
        "markdown_text_conflict",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "method_deprecated",
        "deprecated_endpoint",
    }
)
# Slack's own trouble or a rate limit: wait and try again.
TRANSIENT = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
     "request_timeout", "team_added_to_org", "update_failed", "external_channel_migrating"}
)  # fmt: skip
# What an admin can do about a permanent error, and when what waited goes out: Slack says
# when Lookout joins a channel or a channel is unarchived (the adapter retries then); of
# the other changes it says nothing, so what waited goes out when it next changes.
_NEXT_CHANGE = "what waited goes out when it next changes"
_REINSTALL = f"reinstall the Slack app and update SLACK_BOT_TOKEN; {_NEXT_CHANGE}"
_SCOPES = f"add the scopes of slack/manifest.yaml to the app and reinstall it; {_NEXT_CHANGE}"
HINTS = {
    "channel_not_found": "check the channel in the routing config (an id such as C0123ABCD "
    "is safest); a private channel needs Lookout invited, and what waited goes out when it "
    "joins",
    "not_in_channel": "invite Lookout to the channel (`/invite @Lookout`); what waited goes "
    "out when it joins",
    "is_archived": "unarchive the channel (what waited then goes out), or route its incidents "
    "to another one",
    "is_inactive": "unarchive the channel (what waited then goes out), or route its incidents "
    "to another one",
    "restricted_action": f"let apps post in that channel (its posting permissions); {_NEXT_CHANGE}",
    "restricted_action_read_only_channel": "let apps post in that channel (it is read-only); "
    + _NEXT_CHANGE,
    "restricted_action_thread_only_channel": "let apps post in that channel (threads only); "
    + _NEXT_CHANGE,
    "restricted_action_non_threadable_channel": "route incidents to a channel with threads",
    "invalid_auth": _REINSTALL,
    "not_authed": f"set SLACK_BOT_TOKEN; {_NEXT_CHANGE}",
    "account_inactive": _REINSTALL,
    "token_revoked": _REINSTALL,
    "token_expired": _REINSTALL,
    "missing_scope": _SCOPES,
    "no_permission": _SCOPES,
}
DEFAULT_RETRY_AFTER = 1.0


def _code(error: SlackApiError) -> str:
    """The `error` of Slack's answer; empty when there is none (a 5xx with a text body)."""
    data = getattr(error.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def retry_after(error: SlackApiError) -> float | None:
    """Seconds Slack asked to wait (HTTP 429 and its Retry-After), None when not a 429."""
    response = error.response
    if response is None or getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", None) or {}
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                break
    return DEFAULT_RETRY_AFTER


def delivery_error(
    error: SlackApiError, what: str, *, method: str = "", channel: str | None = None
) -> DeliveryError | RateLimited | SlackApiError:
    """What a Slack error means for the message: refused, gone, permanent, rate limited
    (RateLimited, scoped to `channel` and `method`), or the error itself when transient."""
    code = _code(error)
    status = getattr(error.response, "status_code", None)
    wait = retry_after(error)
    if wait is not None:
        return RateLimited(method=method, channel=channel or "", retry_after=wait)
    if code in REFUSED_CONTENT:
        return DeliveryError(
            f"Slack refused the {what}: {code}", refused_content=True, code=code, channel=channel
        )
    if code in MESSAGE_GONE:
        return DeliveryError(
            f"Slack cannot {what}: {code}", gone="message", code=code, channel=channel
        )
    if code in CHANNEL_GONE:
        return DeliveryError(
            f"Slack cannot {what} in {channel}: {code}",
            gone="conversation",
            code=code,
            channel=channel,
            hint=HINTS.get(code),
        )
    if code in PERMANENT:
        return DeliveryError(
            f"Slack cannot {what}: {code}", permanent=True, code=code, hint=HINTS.get(code)
        )
    if code not in TRANSIENT and isinstance(status, int) and 400 <= status < 500:
        return DeliveryError(
            f"Slack answered {status} to the {what}: {code}", permanent=True, code=code
        )
    return error
