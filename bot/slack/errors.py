"""Slack Web API errors, as Slack documents them, sorted into what the notifier does next.

Every method answers `{"ok": false, "error": "<code>"}`; the codes below come from the
method pages of chat.postMessage, chat.update, conversations.history and the common errors
every method shares (api.slack.com/methods). A code not listed is treated as transient:
retried with backoff a bounded number of times, never forever.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.platforms import DeliveryError

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
    }
)
# Asking again the same way will never work.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "thread_not_found",
        "invalid_thread_ts",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
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
        "invalid_arguments",
        "invalid_arg_name",
        "method_deprecated",
        "deprecated_endpoint",
    }
)
# Slack's own trouble or a rate limit: wait and try again.
TRANSIENT = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
     "request_timeout", "team_added_to_org"}
)  # fmt: skip


def delivery_error(error: SlackApiError, what: str) -> DeliveryError | SlackApiError:
    """The DeliveryError a Slack error means, or the error itself when it is transient."""
    code = str(error.response.get("error") or "") if error.response is not None else ""
    status = getattr(error.response, "status_code", None)
    if code in REFUSED_CONTENT:
        return DeliveryError(f"Slack refused the {what}: {code}", refused_content=True)
    if code in PERMANENT:
        return DeliveryError(f"Slack cannot {what}: {code}", permanent=True)
    if code not in TRANSIENT and isinstance(status, int) and 400 <= status < 500 and status != 429:
        return DeliveryError(f"Slack answered {status} to the {what}: {code}", permanent=True)
    return error
