from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from skills import grammar
from skills.errors import UsageError
from skills.grammar import Positional


class Args(BaseModel):
    incident: Annotated[str, Positional()] = Field(description="the incident")
    note: Annotated[str, Positional(rest=True)] = ""
    service: str | None = None
    limit: int = Field(default=10, ge=1, le=100)
    all: bool = False


class Many(BaseModel):
    targets: Annotated[list[str], Positional(rest=True)] = Field(default_factory=list)


def test_usage_derives_from_the_model() -> None:
    assert grammar.usage("resolve", Args) == (
        "resolve <incident> [note…] [--service SERVICE] [--limit LIMIT] [--all]"
    )
    assert grammar.usage("split", Many) == "split [targets…]"
    assert ("incident", "the incident") in grammar.describe(Args)


def test_positionals_rest_options_and_flags() -> None:
    parsed = grammar.parse(
        "resolve", Args, grammar.split('INC-4 rolled back "v2.3.1" --service checkout --all')
    )
    assert isinstance(parsed, Args)
    assert parsed.incident == "INC-4"
    assert parsed.note == "rolled back v2.3.1"
    assert parsed.service == "checkout" and parsed.all is True and parsed.limit == 10


def test_option_with_equals_and_list_rest() -> None:
    parsed = grammar.parse("x", Args, ["7", "--limit=20", "--all=false"])
    assert isinstance(parsed, Args) and parsed.limit == 20 and parsed.all is False
    many = grammar.parse("split", Many, ["a", "b", "c"])
    assert isinstance(many, Many) and many.targets == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "`incident` is missing"),
        (["1", "--nope"], "`--nope` is not an option of `resolve`"),
        (["1", "--service"], "`--service` needs a value"),
        (["1", "--limit", "5000"], "`--limit`: Input should be less than or equal to 100"),
        (["1", "--limit", "many"], "`--limit`: Input should be a valid integer"),
    ],
)
def test_errors_are_one_sentence_with_usage(words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        grammar.parse("resolve", Args, words)
    assert message in str(caught.value)
    assert "Usage: `resolve <incident>" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unclosed_quote() -> None:
    with pytest.raises(UsageError, match="unclosed quote"):
        grammar.split('resolve 1 "oops')


def test_no_positional_slot_for_extra_words() -> None:
    class NoArgs(BaseModel):
        pass

    with pytest.raises(UsageError, match="did not expect `surprise`"):
        grammar.parse("help", NoArgs, ["surprise"])


class Query(BaseModel):
    query: Annotated[str, Positional(rest=True, raw=True)]
    since: str = "1h"


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        (
            'sum by (code) (rate(http_requests_total{service="checkout"}[5m])) --since 30m',
            'sum by (code) (rate(http_requests_total{service="checkout"}[5m]))',
        ),
        # Quotes around the whole expression only group it.
        ("'up{job=\"api server\"} == 0' --since 30m", 'up{job="api server"} == 0'),
        ('{job=~"a|b"} --since=30m', '{job=~"a|b"}'),
    ],
)
def test_code_keeps_its_quotes(typed: str, query: str) -> None:
    words, raw = grammar.split(typed), grammar.split_raw(typed)
    assert len(words) == len(raw)
    parsed = grammar.parse("metrics", Query, words, raw=raw)
    assert isinstance(parsed, Query)
    assert (parsed.query, parsed.since) == (query, "30m")


def test_raw_words_group_like_the_shell() -> None:
    typed = r'a b\ c "d e" x"y z"w'
    assert grammar.split(typed) == ["a", "b c", "d e", "xy zw"]
    assert grammar.split_raw(typed) == ["a", r"b\ c", '"d e"', 'x"y z"w']
    with pytest.raises(UsageError, match="unclosed quote"):
        grammar.split_raw('up{job="x}')
