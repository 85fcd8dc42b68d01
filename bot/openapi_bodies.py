"""OpenAPI declarations of the routes that read their body raw (webhooks, Slack, Teams).

Those routes take a `Request` (they verify signatures over the exact bytes, or accept a
sender's variations), so FastAPI cannot infer their bodies; these fragments declare them,
so `/openapi.json` describes every endpoint, with the 4xx answers and their reasons.
Shapes follow each sender's documentation: Alertmanager's `notify/webhook.Message`, GitHub's
webhook events, Argo CD notifications, PagerDuty Webhooks v3, Slack's request formats (slash
commands and interactivity as forms, the Events API as JSON) and Bot Framework activities.
"""

from __future__ import annotations

from typing import Any

from core.changes import ChangeKind, ChangeStatus

_TEXT_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_PROBLEM: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "why the body was refused"}},
}


def _answers(*codes: int) -> dict[str, Any]:
    reasons = {
        202: "understood, nothing to do",
        400: "the body is not JSON (or not UTF-8, or nested too deeply)",
        401: "missing or wrong credentials",
        403: "the signature does not match, or the sender is not allowed",
        413: "the body is larger than 1 MiB",
        422: "the body is JSON but not of this kind; `detail` names the fields",
    }
    return {
        str(code): {
            "description": reasons[code],
            "content": {"application/json": {"schema": _PROBLEM}},
        }
        for code in codes
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_WEBHOOK_ALERT: dict[str, Any] = {
    "type": "object",
    "required": ["labels", "startsAt"],
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": {**_TEXT_MAP, "minProperties": 1},
        "annotations": _TEXT_MAP,
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {"type": "string", "format": "date-time"},
        "generatorURL": {"type": "string"},
        "fingerprint": {"type": "string", "maxLength": 64},
    },
}

ALERTMANAGER: dict[str, Any] = {
    "requestBody": _json_body(
        {
            "type": "object",
            "required": ["alerts"],
            "properties": {
                "version": {"type": "string"},
                "groupKey": {"type": "string"},
                "truncatedAlerts": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                "status": {"type": "string", "enum": ["firing", "resolved"]},
                "receiver": {"type": "string"},
                "groupLabels": _TEXT_MAP,
                "commonLabels": _TEXT_MAP,
                "commonAnnotations": _TEXT_MAP,
                "externalURL": {"type": "string"},
                "alerts": {"type": "array", "minItems": 1, "items": _WEBHOOK_ALERT},
            },
        }
    ),
    "parameters": [_header("Authorization", "`Bearer <LOOKOUT_WEBHOOK_TOKEN>`")],
    "responses": _answers(400, 401, 413, 422),
}

_TIME = {"type": "string", "format": "date-time"}

CHANGE: dict[str, Any] = {
    "requestBody": _json_body(
        {
            "type": "object",
            "required": ["id", "kind", "started_at"],
            "properties": {
                "id": {"type": "string", "minLength": 1, "maxLength": 255},
                "kind": {"type": "string", "enum": [kind.value for kind in ChangeKind]},
                "service": {"type": "string"},
                "services": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": 50,
                },
                "started_at": _TIME,
                "finished_at": _TIME,
                "status": {"type": "string", "enum": [status.value for status in ChangeStatus]},
                "environment": {"type": "string", "maxLength": 64},
                "version": {"type": "string", "maxLength": 255},
                "previous_version": {"type": "string", "maxLength": 255},
                "author": {"type": "string", "maxLength": 255},
                "url": {"type": "string", "maxLength": 2000},
                "description": {"type": "string", "maxLength": 4000},
                "labels": _TEXT_MAP,
            },
        }
    ),
    "parameters": [_header("Authorization", "`Bearer <LOOKOUT_WEBHOOK_TOKEN>`")],
    "responses": _answers(400, 401, 413, 422),
}

_REPOSITORY = {
    "type": "object",
    "properties": {
        "full_name": {"type": "string"},
        "name": {"type": "string"},
        "html_url": {"type": "string"},
    },
}

GITHUB: dict[str, Any] = {
    "requestBody": _json_body(
        {
            "type": "object",
            "properties": {
                "repository": _REPOSITORY,
                "deployment": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "sha": {"type": "string"},
                        "ref": {"type": "string"},
                        "environment": {"type": "string"},
                        "created_at": _TIME,
                        "description": {"type": ["string", "null"]},
                        "payload": {"type": "object"},
                        "creator": {"type": "object", "properties": {"login": {"type": "string"}}},
                    },
                },
                "deployment_status": {
                    "type": "object",
                    "properties": {
                        "state": {
                            "type": "string",
                            "enum": ["pending", "in_progress", "success", "failure", "error"],
                        },
                        "created_at": _TIME,
                        "target_url": {"type": "string"},
                    },
                },
                "workflow_run": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "path": {"type": "string"},
                        "status": {"type": "string"},
                        "conclusion": {"type": ["string", "null"]},
                        "run_started_at": _TIME,
                        "updated_at": _TIME,
                        "run_attempt": {"type": "integer"},
                        "head_sha": {"type": "string"},
                        "head_branch": {"type": "string"},
                    },
                },
            },
        }
    ),
    "parameters": [
        _header(
            "X-GitHub-Event",
            "the event: `deployment`, `deployment_status`, `workflow_run` (others are ignored)",
            enum=["deployment", "deployment_status", "workflow_run", "ping", "push"],
        ),
        _header("X-Hub-Signature-256", "`sha256=<HMAC-SHA256 hex of the body>`"),
        _header("Authorization", "`Bearer <LOOKOUT_WEBHOOK_TOKEN>` when no secret is set"),
    ],
    "responses": _answers(202, 400, 401, 413, 422),
}

ARGOCD: dict[str, Any] = {
    "requestBody": _json_body(
        {
            "type": "object",
            "properties": {
                "app": {
                    "type": "object",
                    "properties": {
                        "metadata": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "annotations": _TEXT_MAP,
                            },
                        },
                        "status": {"type": "object"},
                    },
                },
                "argocdUrl": {"type": "string"},
                "resources": {"type": "array", "items": {"type": "object"}},
                "revision": {"type": "string"},
            },
        }
    ),
    "parameters": [_header("Authorization", "`Bearer <LOOKOUT_WEBHOOK_TOKEN>`")],
    "responses": _answers(400, 401, 413, 422),
}

PAGERDUTY: dict[str, Any] = {
    "requestBody": _json_body(
        {
            "type": "object",
            "required": ["event"],
            "properties": {
                "event": {
                    "type": "object",
                    "required": ["event_type"],
                    "properties": {
                        "id": {"type": "string"},
                        "event_type": {
                            "type": "string",
                            "enum": [
                                "incident.acknowledged",
                                "incident.resolved",
                                "incident.triggered",
                            ],
                        },
                        "occurred_at": _TIME,
                        "agent": {"type": "object", "properties": {"summary": {"type": "string"}}},
                        "data": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "title": {"type": "string"},
                                "incident_key": {"type": "string"},
                            },
                        },
                    },
                }
            },
        }
    ),
    "parameters": [
        _header("X-PagerDuty-Signature", "`v1=<HMAC-SHA256 hex of the body>`[,v1=…]"),
        _header("Authorization", "`Bearer <LOOKOUT_WEBHOOK_TOKEN>` when no secret is set"),
    ],
    "responses": _answers(202, 400, 401, 403, 413, 422),
}

_SLASH_COMMAND = {
    "type": "object",
    "description": "a slash command, or interactivity with its JSON in `payload`",
    "properties": {
        "command": {"type": "string"},
        "text": {"type": "string"},
        "user_id": {"type": "string"},
        "user_name": {"type": "string"},
        "team_id": {"type": "string"},
        "channel_id": {"type": "string"},
        "trigger_id": {"type": "string"},
        "response_url": {"type": "string"},
        "payload": {"type": "string", "description": "interactivity: a JSON document"},
    },
}

SLACK: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _SLASH_COMMAND},
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "the Events API (`event_callback`, `url_verification`)",
                    "properties": {
                        "type": {"type": "string"},
                        "token": {"type": "string"},
                        "challenge": {"type": "string"},
                        "team_id": {"type": "string"},
                        "event_id": {"type": "string"},
                        "event": {"type": "object"},
                    },
                }
            },
        },
    },
    "parameters": [
        _header("X-Slack-Request-Timestamp", "Unix seconds; refused when 5 minutes off"),
        _header("X-Slack-Signature", "`v0=<HMAC-SHA256 hex of v0:<timestamp>:<body>>`"),
    ],
    "responses": {
        "401": {"description": "missing, stale or wrong signature"},
        "400": {"description": "the body is not a Slack request"},
    },
}

_ACCOUNT = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}

TEAMS: dict[str, Any] = {
    "requestBody": _json_body(
        {
            "type": "object",
            "description": "a Bot Framework activity",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": ["message", "invoke", "conversationUpdate"]},
                "id": {"type": "string"},
                "timestamp": _TIME,
                "serviceUrl": {"type": "string"},
                "channelId": {"type": "string"},
                "from": _ACCOUNT,
                "recipient": _ACCOUNT,
                "conversation": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "tenantId": {"type": "string"}},
                },
                "text": {"type": "string"},
                "value": {"type": "object"},
                "channelData": {"type": "object"},
            },
        }
    ),
    "parameters": [_header("Authorization", "`Bearer <JWT issued by the Bot Framework>`")],
    "responses": {
        "400": {"description": "the body is not a Bot Framework activity"},
        "401": {"description": "missing or invalid token"},
        "403": {"description": "another tenant"},
    },
}
