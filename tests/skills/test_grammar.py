from __future__ import annotations

from typing import Annotated, Literal

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
    parsed = grammar.parse("resolve", Args, 'INC-4 rolled back "v2.3.1" --service checkout --all')
    assert isinstance(parsed, Args)
    assert parsed.incident == "INC-4"
    assert parsed.note == 'rolled back "v2.3.1"'  # text keeps its quotes
    assert parsed.service == "checkout" and parsed.all is True and parsed.limit == 10


def test_option_with_equals_and_list_rest() -> None:
    parsed = grammar.parse("x", Args, "7 --limit=20 --all=false")
    assert isinstance(parsed, Args) and parsed.limit == 20 and parsed.all is False
    many = grammar.parse("split", Many, 'a "b c" d\\ e')
    assert isinstance(many, Many) and many.targets == ["a", "b c", "d e"]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("", "`incident` is missing"),
        ("--nope 1", "`--nope` is not an option of `resolve`"),
        ("--limt 3 1", "`--limt` is not an option of `resolve`. Did you mean `--limit`?"),
        ("1 --limit 3 --service", "`--service` needs a value"),
        ("1 --limit 5000", "`--limit` takes a whole number from 1 to 100"),
        ("1 --limit 0", "`--limit` takes a whole number from 1 to 100"),
        ("1 --limit many", "`--limit` takes a whole number from 1 to 100"),
    ],
)
def test_errors_are_one_sentence_with_usage(words: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        grammar.parse("resolve", Args, words)
    assert message in str(caught.value)
    assert "Usage: `resolve <incident>" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "Input should" not in str(caught.value)


def test_an_unclosed_quote_matters_only_in_leading_words() -> None:
    with pytest.raises(UsageError, match="unclosed quote"):
        grammar.parse("resolve", Args, '1 --service "oops')
    parsed = grammar.parse("resolve", Args, "1 it's \"fine")
    assert isinstance(parsed, Args) and parsed.note == "it's \"fine"


def test_no_positional_slot_for_extra_words() -> None:
    class NoArgs(BaseModel):
        pass

    with pytest.raises(UsageError, match="did not expect `surprise`"):
        grammar.parse("help", NoArgs, "surprise")


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
    parsed = grammar.parse("metrics", Query, typed)
    assert isinstance(parsed, Query)
    assert (parsed.query, parsed.since) == (query, "30m")


class Text(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = None
    text: Annotated[str, Positional(rest=True)] = ""
    limit: int = 5


@pytest.mark.parametrize(
    "typed",
    [
        "it's the db",
        "don't restart it's fine",
        "C:\\temp\\x and \\\\share\\path",
        "said \"roll back\" then 'waited'",
        "🔥 p99 > 2s — fixed ✅",
        "first line\n  second line\n\nthird",
        "--force was not needed",
        "unbalanced \" quote and ' apostrophe",
    ],
)
def test_text_is_kept_exactly_as_typed(typed: str) -> None:
    parsed = grammar.parse("note", Text, f"INC-5 {typed}")
    assert isinstance(parsed, Text)
    assert (parsed.incident, parsed.text) == ("INC-5", typed)
    parsed = grammar.parse("note", Text, f"--incident INC-5 {typed}  --limit 3")
    assert isinstance(parsed, Text)
    assert (parsed.incident, parsed.text, parsed.limit) == ("INC-5", typed, 3)


@pytest.mark.parametrize(
    ("typed", "thread", "incident", "text"),
    [
        ("42 fixed", None, "42", "fixed"),
        ("#42 fixed", None, "#42", "fixed"),
        ("INC-42 fixed", None, "INC-42", "fixed"),
        ("2 replicas restarted", 8, None, "2 replicas restarted"),
        ("10 pods restarted on node-3", 17, None, "10 pods restarted on node-3"),
        ("#2 replicas restarted", 8, "#2", "replicas restarted"),
        ("INC-2 replicas restarted", 8, "INC-2", "replicas restarted"),
        (
            "restarted the exporter; throttling gone",
            8,
            None,
            "restarted the exporter; throttling gone",
        ),
        ("restarted --incident INC-3", 8, "INC-3", "restarted"),
    ],
)
def test_incidents_in_and_out_of_threads(
    typed: str, thread: int | None, incident: str | None, text: str
) -> None:
    parsed = grammar.parse("resolve", Text, typed, thread_incident=thread)
    assert isinstance(parsed, Text)
    assert (parsed.incident, parsed.text) == (incident, text)


def test_a_bare_number_in_a_thread_is_not_another_incident() -> None:
    class Only(BaseModel):
        incident: Annotated[str | None, Positional(incident=True)] = None

    with pytest.raises(UsageError, match="write `INC-2` or `#2`"):
        grammar.parse("ack", Only, "2", thread_incident=8)
    parsed = grammar.parse("ack", Only, "2")
    assert isinstance(parsed, Only) and parsed.incident == "2"
    assert grammar.usage("ack", Only) == "ack [incident]"
    assert ("--incident", "the incident, as an option (INC-42)") in grammar.describe(Only)


def test_choices_get_did_you_mean() -> None:
    class Choice(BaseModel):
        state: Annotated[Literal["investigating", "mitigated"], Positional()]

    assert grammar.usage("status", Choice) == "status investigating|mitigated"
    with pytest.raises(UsageError) as caught:
        grammar.parse("status", Choice, "mitgated")
    assert "`state` is one of investigating, mitigated, not `mitgated`" in str(caught.value)
    assert "Did you mean `mitigated`?" in str(caught.value)
