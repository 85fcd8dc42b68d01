"""Who may talk to Lookout: one table of attempts per scheme, each refused with 401 or 403,
and the genuine request accepted.

Schemes: Slack's v0 signature (HMAC-SHA256 of `v0:<timestamp>:<body>`, 5 minutes either
way), GitHub's `X-Hub-Signature-256`, PagerDuty's `X-PagerDuty-Signature` (v1, several
allowed while a secret rotates), Bot Framework JWTs on Teams (RS256 from the published keys,
audience = the app id, issuer, expiry, `serviceurl` claim), and the bearer token of the other
webhooks. GitHub and PagerDuty sign no timestamp, so a replay there is a re-delivery: it is
accepted and changes nothing (the change's id, the incident's state), as the last tests show.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from bot.settings import Settings
from bot.teams.adapter import TeamsAdapter
from integrations.change_events import github_signature_valid
from integrations.pagerduty import SignatureError, verify_signature
from tests.bot.fuzz_world import (
    GITHUB_SECRET,
    PAGERDUTY_SECRET,
    WEBHOOK_TOKEN,
    FuzzWorld,
    fuzz_world,
    hub_signature,
    pagerduty_signature,
    slack_signature,
)
from tests.bot.slack.conftest import SIGNING_SECRET, slash_command
from tests.bot.teams.conftest import TENANT, recorded
from tests.bot.teams.fakes import new_rsa_key
from tests.conftest import fixture_json, postgres_skip_reason

# SQLite pass only: refused at the door, before the store.
pytestmark = pytest.mark.sqlite

ACCEPTED = (200, 202)
# The adapters refuse before they use these.
NOTHING: Any = None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    postgres = asyncio.run(postgres_skip_reason()) is None
    with fuzz_world(tmp_path_factory.mktemp("signatures"), postgres=postgres) as running:
        yield running


@dataclass
class Attempt:
    """One request: `body` and its headers, built when sent (timestamps are of that moment)."""

    name: str
    path: str
    build: Callable[[FuzzWorld], tuple[bytes, dict[str, str]]]
    expected: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def send(world: FuzzWorld, attempt: Attempt) -> requests.Response:
    body, headers = attempt.build(world)
    return requests.post(f"{world.url}{attempt.path}", data=body, headers=headers, timeout=30)


# ---------------------------------------------------------------- Slack

_counter = iter(range(1_000_000))


def _slash(world: FuzzWorld) -> bytes:
    return slash_command(
        "help", trigger=f"t-sig-{next(_counter)}", response_url=f"{world.slack_url}/hooks/sig"
    )


def slack(
    *,
    secret: str = SIGNING_SECRET,
    skew: int = 0,
    signature: Callable[[str], str] = lambda s: s,
    drop: str | None = None,
    other_body: bool = False,
) -> Callable[[FuzzWorld], tuple[bytes, dict[str, str]]]:
    def build(world: FuzzWorld) -> tuple[bytes, dict[str, str]]:
        body = _slash(world)
        stamp = str(int(time.time()) + skew)
        signed = _slash(world) if other_body else body
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(slack_signature(signed, stamp, secret)),
        }
        if drop:
            del headers[drop]
        return body, headers

    return build


SLACK = [
    Attempt("genuine", "/slack/events", slack(), ACCEPTED),
    Attempt("wrong secret", "/slack/events", slack(secret="not-the-secret"), (401,)),
    Attempt("no signature", "/slack/events", slack(drop="X-Slack-Signature"), (401,)),
    Attempt("no timestamp", "/slack/events", slack(drop="X-Slack-Request-Timestamp"), (401,)),
    Attempt("6 minutes old (replay)", "/slack/events", slack(skew=-360), (401,)),
    Attempt("6 minutes ahead (clock skew)", "/slack/events", slack(skew=360), (401,)),
    Attempt("signature of another body", "/slack/events", slack(other_body=True), (401,)),
    Attempt("truncated signature", "/slack/events", slack(signature=lambda s: s[:-8]), (401,)),
    Attempt(
        "version v1 instead of v0",
        "/slack/events",
        slack(signature=lambda s: "v1" + s[2:]),
        (401,),
    ),
    Attempt(
        "characters past ASCII",
        "/slack/events",
        slack(signature=lambda s: s[:-1] + "é"),
        (401,),
    ),
]


# ---------------------------------------------------------------- GitHub


def _deployment() -> bytes:
    document = fixture_json("github", "01_octokit_deployment_created.json")
    return json.dumps(document).encode()


def github(
    *, signature: Callable[[bytes], str] | None = None, other_body: bool = False
) -> Callable[[FuzzWorld], tuple[bytes, dict[str, str]]]:
    def build(world: FuzzWorld) -> tuple[bytes, dict[str, str]]:
        body = _deployment()
        signed = body + b" " if other_body else body
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "deployment"}
        value = (signature or hub_signature)(signed)
        if value:
            headers["X-Hub-Signature-256"] = value
        return body, headers

    return build


def _hex(body: bytes, secret: str = GITHUB_SECRET, digest: Any = hashlib.sha256) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


GITHUB = [
    Attempt("genuine", "/webhooks/changes/github", github(), ACCEPTED),
    Attempt(
        "wrong secret",
        "/webhooks/changes/github",
        github(signature=lambda b: "sha256=" + _hex(b, "nope")),
        (401,),
    ),
    Attempt("no signature", "/webhooks/changes/github", github(signature=lambda b: ""), (401,)),
    Attempt(
        "signature of another body", "/webhooks/changes/github", github(other_body=True), (401,)
    ),
    Attempt(
        "truncated signature",
        "/webhooks/changes/github",
        github(signature=lambda b: hub_signature(b)[:-8]),
        (401,),
    ),
    Attempt(
        "legacy sha1= (X-Hub-Signature's algorithm)",
        "/webhooks/changes/github",
        github(signature=lambda b: "sha1=" + _hex(b, digest=hashlib.sha1)),
        (401,),
    ),
    Attempt(
        "sha256 digest under a sha1= prefix",
        "/webhooks/changes/github",
        github(signature=lambda b: "sha1=" + _hex(b)),
        (401,),
    ),
    Attempt(
        "characters past ASCII",
        "/webhooks/changes/github",
        github(signature=lambda b: hub_signature(b)[:-1] + "é"),
        (401,),
    ),
]


# ---------------------------------------------------------------- PagerDuty


def _acknowledged() -> bytes:
    document = fixture_json("pagerduty", "05_zulip_webhook_v3_incident_acknowledged.json")
    return json.dumps(document).encode()


def pagerduty(
    signature: Callable[[bytes], str] = pagerduty_signature, other_body: bool = False
) -> Callable[[FuzzWorld], tuple[bytes, dict[str, str]]]:
    def build(world: FuzzWorld) -> tuple[bytes, dict[str, str]]:
        body = _acknowledged()
        value = signature(body + b" " if other_body else body)
        headers = {"Content-Type": "application/json"}
        if value:
            headers["X-PagerDuty-Signature"] = value
        return body, headers

    return build


PAGERDUTY = [
    Attempt("genuine", "/webhooks/pagerduty", pagerduty(), ACCEPTED),
    Attempt(
        "genuine among rotated secrets",
        "/webhooks/pagerduty",
        pagerduty(lambda b: "v1=" + "0" * 64 + "," + pagerduty_signature(b)),
        ACCEPTED,
    ),
    Attempt(
        "wrong secret",
        "/webhooks/pagerduty",
        pagerduty(lambda b: "v1=" + _hex(b, "nope")),
        (403,),
    ),
    Attempt("no signature", "/webhooks/pagerduty", pagerduty(lambda b: ""), (401,)),
    Attempt("signature of another body", "/webhooks/pagerduty", pagerduty(other_body=True), (403,)),
    Attempt(
        "truncated signature",
        "/webhooks/pagerduty",
        pagerduty(lambda b: pagerduty_signature(b)[:-8]),
        (403,),
    ),
    Attempt(
        "version v0 instead of v1",
        "/webhooks/pagerduty",
        pagerduty(lambda b: "v0=" + _hex(b, PAGERDUTY_SECRET)),
        (401,),
    ),
    Attempt(
        "characters past ASCII",
        "/webhooks/pagerduty",
        pagerduty(lambda b: pagerduty_signature(b)[:-1] + "é"),
        (403,),
    ),
]


# ---------------------------------------------------------------- Teams


def _activity(world: FuzzWorld) -> dict[str, Any]:
    body: dict[str, Any] = dict(recorded("01_channel_message_at_mention.json")["body"])
    body["serviceUrl"] = world.connector.service_url
    body["text"] = "<at>My Combined</at> help"
    return body


def teams(
    token: Callable[[FuzzWorld], str | None],
) -> Callable[[FuzzWorld], tuple[bytes, dict[str, str]]]:
    def build(world: FuzzWorld) -> tuple[bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        value = token(world)
        if value is not None:
            headers["Authorization"] = f"Bearer {value}"
        return json.dumps(_activity(world)).encode(), headers

    return build


def _signed(world: FuzzWorld, **claims: Any) -> str:
    return world.identity.sign(service_url=world.connector.service_url, **claims)


def _unsigned(world: FuzzWorld) -> str:
    """`alg: none`: the claims of a genuine token with no signature."""
    claims = jwt.decode(_signed(world), options={"verify_signature": False})
    header = {"alg": "none", "typ": "JWT", "kid": world.identity.key_id}
    return f"{_part(header)}.{_part(claims)}."


def _part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _hs256(world: FuzzWorld) -> str:
    """HS256 keyed with the published public key: the algorithm-confusion attack."""
    claims = jwt.decode(_signed(world), options={"verify_signature": False})
    header = {"alg": "HS256", "typ": "JWT", "kid": world.identity.key_id}
    signing_input = f"{_part(header)}.{_part(claims)}"
    key = world.identity.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


TEAMS = [
    Attempt("genuine", "/api/messages", teams(_signed), ACCEPTED),
    Attempt("no token", "/api/messages", teams(lambda w: None), (401,)),
    Attempt("unsigned (alg none)", "/api/messages", teams(_unsigned), (401,)),
    Attempt("HS256 keyed with the public key", "/api/messages", teams(_hs256), (401,)),
    Attempt(
        "another app's audience",
        "/api/messages",
        teams(lambda w: _signed(w, audience="00000000-0000-0000-0000-000000000000")),
        (401,),
    ),
    Attempt(
        "another issuer",
        "/api/messages",
        teams(lambda w: _signed(w, issuer="https://sts.example.invalid/")),
        (401,),
    ),
    Attempt("expired", "/api/messages", teams(lambda w: _signed(w, expires_in=-600)), (401,)),
    Attempt(
        "signed by an unpublished key",
        "/api/messages",
        teams(lambda w: _signed(w, key=new_rsa_key())),
        (401,),
    ),
    Attempt(
        "issued for another serviceUrl",
        "/api/messages",
        teams(lambda w: w.identity.sign(service_url="http://127.0.0.1:9/elsewhere/")),
        (401,),
    ),
    Attempt("truncated token", "/api/messages", teams(lambda w: _signed(w)[:-10]), (401,)),
]


# ---------------------------------------------------------------- bearer token


def _alert() -> bytes:
    return json.dumps(
        {
            "alerts": [
                {
                    "labels": {"alertname": "TokenCheck", "service": "auth"},
                    "startsAt": "2026-11-30T12:00:00Z",
                }
            ]
        }
    ).encode()


def bearer(authorization: str | None) -> Callable[[FuzzWorld], tuple[bytes, dict[str, str]]]:
    def build(world: FuzzWorld) -> tuple[bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        return _alert(), headers

    return build


BEARER = [
    Attempt("genuine", "/webhooks/alertmanager", bearer(f"Bearer {WEBHOOK_TOKEN}"), ACCEPTED),
    Attempt("no token", "/webhooks/alertmanager", bearer(None), (401,)),
    Attempt("wrong token", "/webhooks/alertmanager", bearer("Bearer not-it"), (401,)),
    Attempt(
        "truncated token", "/webhooks/alertmanager", bearer(f"Bearer {WEBHOOK_TOKEN[:-1]}"), (401,)
    ),
    Attempt("Basic scheme", "/webhooks/alertmanager", bearer(f"Basic {WEBHOOK_TOKEN}"), (401,)),
    Attempt("empty Bearer", "/webhooks/alertmanager", bearer("Bearer "), (401,)),
    Attempt(
        "characters past ASCII",
        "/webhooks/alertmanager",
        bearer(f"Bearer {WEBHOOK_TOKEN}é"),
        (401,),
    ),
]

TABLE = [
    pytest.param(attempt, id=f"{scheme}: {attempt.name}")
    for scheme, attempts in (
        ("slack", SLACK),
        ("github", GITHUB),
        ("pagerduty", PAGERDUTY),
        ("teams", TEAMS),
        ("bearer", BEARER),
    )
    for attempt in attempts
]


@pytest.mark.parametrize("attempt", TABLE)
def test_attempt(world: FuzzWorld, attempt: Attempt) -> None:
    before = world.counts()
    response = send(world, attempt)
    assert response.status_code in attempt.expected, (response.status_code, response.text[:300])
    if attempt.expected == ACCEPTED:
        return
    after = world.counts()
    # What a request writes before it answers; chat answers of earlier genuine requests
    # may still be landing in the other tables.
    for table in ("alerts", "incidents", "changes"):
        assert after[table] == before[table], f"a refused request wrote to {table}"


# ---------------------------------------------------------------- replays


def test_a_slack_request_replayed_with_its_signature_is_refused(world: FuzzWorld) -> None:
    body = _slash(world)
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(body, stamp),
    }
    first = requests.post(f"{world.url}/slack/events", data=body, headers=headers, timeout=30)
    replay = requests.post(f"{world.url}/slack/events", data=body, headers=headers, timeout=30)
    assert first.status_code == 200
    assert replay.status_code == 401, replay.text
    assert "already received" in replay.json()["detail"]


def test_a_github_redelivery_changes_nothing(world: FuzzWorld) -> None:
    attempt = Attempt("genuine", "/webhooks/changes/github", github(), ACCEPTED)
    send(world, attempt)
    before = world.counts()
    again = send(world, attempt)
    assert again.status_code in ACCEPTED
    assert world.counts()["changes"] == before["changes"]


# ---------------------------------------------------------------- empty secrets


def test_an_empty_secret_verifies_nothing() -> None:
    body = b'{"anything": 1}'
    empty_github = "sha256=" + hmac.new(b"", body, hashlib.sha256).hexdigest()
    assert not github_signature_valid("", body, empty_github)
    empty_pagerduty = "v1=" + hmac.new(b"", body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError):
        verify_signature([""], body, empty_pagerduty)


def test_an_empty_slack_signing_secret_or_teams_app_id_refuses_to_start(tmp_path: Any) -> None:
    from bot.slack.adapter import SlackAdapter

    base = Settings(data_dir=tmp_path)
    slack_settings = base.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-test"),
            "slack_signing_secret": SecretStr(" "),
        }
    )
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET is empty"):
        SlackAdapter.from_settings(
            slack_settings,
            dispatcher=NOTHING,
            database=NOTHING,
            metrics=NOTHING,
        )
    teams_settings = base.model_copy(
        update={"teams_app_id": "", "teams_app_password": SecretStr("x"), "teams_tenant_id": TENANT}
    )
    with pytest.raises(ValueError, match="TEAMS_APP_ID is empty"):
        TeamsAdapter.from_settings(
            teams_settings,
            dispatcher=NOTHING,
            database=NOTHING,
            metrics=NOTHING,
        )
