"""The console's command request: read with the webhooks' size limit and told apart from
bad input with one plain sentence per fault, never the input echoed back."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request

from bot.bodies import MAX_BODY, BodyTooLarge, NotJSON, parse_json, read_body
from core.alerts import storable

MAX_COMMAND = 4000
MAX_NAME = 64
MAX_CHANNEL = 255
NAME = re.compile(r"^[\w.@+-]+$")
# What a name may not hold, for the suggestion: runs of spaces become a dot.
_NOT_IN_NAME = re.compile(r"[^\w.@+-]")


class CommandIn(BaseModel):
    """`POST /console/api/command`: a command as typed, who runs it and where."""

    text: str = Field(min_length=1, max_length=MAX_COMMAND, description="`/lookout <skill> [args]`")
    user: str = Field(
        default="console",
        min_length=1,
        max_length=MAX_NAME,
        pattern=NAME.pattern,
        description="who runs it; ignored behind a proxy (LOOKOUT_CONSOLE_AUTH=proxy)",
    )
    channel: str = Field(default="#incidents", min_length=1, max_length=MAX_CHANNEL)
    thread: str | None = Field(default=None, description="root message id, e.g. m-12")


OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CommandIn.model_json_schema()}},
    },
    "responses": {
        str(code): {
            "description": reason,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"detail": {"type": "string"}}}
                }
            },
        }
        for code, reason in (
            (400, "the body is not a JSON object; `detail` says why, in one sentence"),
            (413, "the body is larger than 1 MiB"),
            (422, "a field is wrong (an empty or too long command, a bad name)"),
        )
    },
}


class BadCommand(ValueError):
    """A command request Lookout cannot run: `status` is the HTTP status, the message the
    sentence to show."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def name_sentence(name: str) -> str:
    """Why `name` is not a console name, with a name that would do."""
    if len(name) > MAX_NAME:
        return f"A name is at most {MAX_NAME} characters; this one has {len(name):,}."
    suggestion = _NOT_IN_NAME.sub("", re.sub(r"\s+", ".", name.strip()))
    hint = f": try {suggestion}" if suggestion and NAME.match(suggestion) else ""
    return f"A name is letters, digits and . @ + - _ only, without spaces{hint}."


def _sentence(document: dict[str, Any], error: ValidationError) -> str:
    """The first fault of `document`, as the console's user can act on it."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    kind = first["type"]
    value = document.get(field)
    if field == "text":
        if isinstance(value, str) and value.strip() and kind == "string_too_long":
            return (
                f"A command is at most {MAX_COMMAND:,} characters; this one has "
                f"{len(value):,}. Put long text in a file or split it."
            )
        if value is None or (isinstance(value, str) and not value.strip()):
            return "Type a command, e.g. `help`."
        return "The command (`text`) must be text, e.g. `help`."
    if field == "user":
        if isinstance(value, str) and value:
            return name_sentence(value)
        return "Say who you are: a name of letters, digits and . @ + - _, e.g. alice."
    if field == "channel":
        return f"A channel is a name of 1 to {MAX_CHANNEL} characters, e.g. #incidents."
    if field == "thread":
        return "A thread is a console message id, e.g. m-12."
    return "The request needs `text` (the command) and may give `user`, `channel` and `thread`."


def _cleaned(value: Any) -> Any:
    """Text made storable (NUL and lone surrogates become U+FFFD), as the webhooks do."""
    return storable(value) if isinstance(value, str) else value


async def read_command(request: Request) -> CommandIn:
    """The request's command; BadCommand (400, 413 or 422) with the sentence that says why
    there is none."""
    try:
        body = await read_body(request)
    except BodyTooLarge:
        raise BadCommand(
            413,
            f"The request is larger than {MAX_BODY // (1024 * 1024)} MiB; "
            "put long text in a file or split it.",
        ) from None
    try:
        document = parse_json(body)
    except NotJSON as error:
        reason = str(error).removeprefix("body is not valid JSON: ")
        raise BadCommand(400, f"The request body is not valid JSON: {reason}.") from None
    if not isinstance(document, dict):
        raise BadCommand(
            400, 'The request body must be a JSON object with `text`, e.g. {"text": "help"}.'
        )
    document = {key: _cleaned(value) for key, value in document.items()}
    if isinstance(document.get("text"), str) and not document["text"].strip():
        raise BadCommand(422, "Type a command, e.g. `help`.")
    try:
        return CommandIn.model_validate(document)
    except ValidationError as error:
        raise BadCommand(422, _sentence(document, error)) from None
