"""What the redactor masks in step output, and what it leaves readable."""

from __future__ import annotations

import pytest

from runbooks.redact import MASK, OutputBuffer, Redactor, excerpt, secret_env_values


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("password=hunter22 next", "password=*** next"),
        ('{"api_key": "k-123456789"}', '{"api_key": "***"}'),
        ("DB_PASSWORD: swordfish", "DB_PASSWORD: ***"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
        ("curl -H 'bearer abcdefgh12345'", "curl -H 'bearer ***'"),
        ("postgres://app:s3cret@db:5432/x", "postgres://app:***@db:5432/x"),
        ("token xoxb-1234567890-abcdef", "token ***"),
        ("key AKIAABCDEFGHIJKLMNOP here", "key *** here"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "***"),
        ("Author: Jane, 3 files changed", "Author: Jane, 3 files changed"),
        ("replicas: 3 ready: 3", "replicas: 3 ready: 3"),
    ],
)
def test_credential_shapes_are_masked(text: str, shown: str) -> None:
    assert Redactor()(text) == shown


def test_known_secret_values_are_masked_longest_first() -> None:
    redact = Redactor(["abcd", "abcdefgh", "x"])
    assert redact("abcdefgh abcd x") == f"{MASK} {MASK} x"


def test_secret_environment_values_are_picked_by_name() -> None:
    env = {"REDISCLI_AUTH": "pw-1", "API_TOKEN": "t-2", "LANG": "C.UTF-8", "PATH": "/usr/bin"}
    assert sorted(secret_env_values(env)) == ["pw-1", "t-2"]


def test_a_secret_cut_by_the_limit_is_still_masked() -> None:
    buffer = OutputBuffer(limit=300)
    buffer.feed(b"x" * 290 + b" password=verylongsecretvalue\n")
    text = buffer.text(Redactor())
    assert "verylong" not in text
    assert "output truncated" in text


def test_excerpt_counts_what_it_leaves_out() -> None:
    head = excerpt("a\n\nb\nc\nd\n", lines=2)
    assert head.lines == ("a", "b") and head.hidden == 2
    tail = excerpt("a\n\nb\nc\nd\n", lines=2, tail=True)
    assert tail.lines == ("c", "d") and tail.hidden == 2
    assert excerpt("y" * 500, chars=10).lines == ("y" * 9 + "…",)
    many = excerpt("\n".join(f"line {n}" for n in range(10)), lines=3, chars=14)
    assert many.lines == ("line 0", "line 1") and many.hidden == 8
