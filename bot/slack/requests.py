"""What `/slack/events` refuses before Bolt reads a body: the reason, or None.

Bolt decodes the body as UTF-8 and parses it the way Slack sends it (`bolt/request/
internals.py`, `parse_body`): JSON for the Events API, a form for slash commands, a form whose
`payload` field is JSON for interactivity. It then reads fields by their documented types
(`body["event"]["type"]`, `body["team"]["id"]` …) and fails with a 500 on anything else. This
module checks the same things first, so a body Slack would never send gets a 400 with why.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from bot.bodies import NotJSON, parse_json

# Top-level fields that Slack sends as objects, or as an id string (`team`, `user`,
# `channel`, `enterprise` are objects in interactivity payloads and absent elsewhere).
_OBJECTS = ("event", "container", "message", "view", "state")
_OBJECT_OR_ID = ("team", "user", "channel", "enterprise")
_LISTS_OF_OBJECTS = ("authorizations", "actions")
_TEXTS = ("type", "event_id", "team_id", "api_app_id", "trigger_id", "command", "text")
_EVENT_TEXTS = ("type", "subtype", "user", "bot_id", "channel", "ts", "thread_ts", "text")


def slack_body_problem(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not read `body`, or None when it can (see the module's docstring)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not text:
        return "the body is empty"
    document: Any
    try:
        if (content_type or "").split(";")[0].strip() == "application/json" or text.startswith("{"):
            document = parse_json(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            document = parse_json(fields["payload"]) if "payload" in fields else fields
    except NotJSON as error:
        return f"the body is not JSON or a form with a JSON payload: {error}"
    if not isinstance(document, dict):
        return "the body must be a JSON object"
    return _shape_problem(document)


def _shape_problem(document: dict[str, Any]) -> str | None:
    for key in _OBJECTS:
        if key in document and not isinstance(document[key], dict):
            return f"`{key}` must be an object"
    for key in _OBJECT_OR_ID:
        value = document.get(key)
        if value is not None and not isinstance(value, dict | str):
            return f"`{key}` must be an object or an id"
        if isinstance(value, dict) and not isinstance(value.get("id", ""), str):
            return f"`{key}.id` must be text"
    for key in _LISTS_OF_OBJECTS:
        value = document.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        ):
            return f"`{key}` must be a list of objects"
    for key in _TEXTS:
        if document.get(key) is not None and not isinstance(document[key], str):
            return f"`{key}` must be text"
    event = document.get("event")
    if isinstance(event, dict):
        for key in _EVENT_TEXTS:
            if event.get(key) is not None and not isinstance(event[key], str):
                return f"`event.{key}` must be text"
    return None


def signature_headers_problem(timestamp: str | None, signature: str | None) -> str | None:
    """Why Slack's signature headers cannot be checked (answered with a 401), or None.

    The checker takes the timestamp as an integer and compares signatures as ASCII text;
    anything else would make it fail instead of refusing."""
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "X-Slack-Request-Timestamp is not a Unix time"
    if not (signature.isascii() and signature.isprintable()):
        return "X-Slack-Signature is not a v0 signature"
    return None
