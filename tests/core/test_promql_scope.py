"""Which services a PromQL query reads: every selector, wherever it sits in the expression."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.alerts import DEFAULT_SERVICE_LABELS
from core.promql_scope import PromQLError, read_scope

READS = {
    'rate(http_requests_total{service="checkout",code=~"5.."}[5m])': ({"checkout"}, ()),
    'sum by (le) (rate(h_bucket{app="web"}[5m]))': ({"web"}, ()),
    'up{job=~"a|b"} or on() up{service="c"}': ({"a", "b", "c"}, ()),
    'max_over_time(up{service="c"}[1h:5m])': ({"c"}, ()),
    'x{service="a" or service="b"}': ({"a", "b"}, ()),
    'topk(3, -x{namespace="q"}) / scalar(y{service="q"})': ({"q"}, ()),
    'label_replace(x{service="a"}, "service", "b", "", "")': ({"a"}, ()),
    "vector(1) + time()": (set(), ()),
    "sum(rate(x[5m]))": (set(), ("x",)),
    'x{service=~".*"}': (set(), ("x",)),
    'x{service!="a"}': (set(), ("x",)),
    'x{service=""}': (set(), ("x",)),
    'x{service="a" or code="b"}': (set(), ("x",)),
    'x{service="a"} + y{instance="h:9100"}': ({"a"}, ("y",)),
    'count_values("v", x{service="a"}) unless z': ({"a"}, ("z",)),
}


@pytest.mark.parametrize("query", READS)
def test_each_selector_is_pinned_to_services_or_named_as_unpinned(query: str) -> None:
    services, unpinned = READS[query]
    scope = read_scope(query, DEFAULT_SERVICE_LABELS)
    assert scope.services == services
    assert scope.unpinned == unpinned


def test_a_regex_that_is_more_than_names_pins_nothing() -> None:
    for pattern in ("check.*", "a|b.+", "(a|b)", "a.b", "[ab]"):
        scope = read_scope(f'x{{service=~"{pattern}"}}', DEFAULT_SERVICE_LABELS)
        assert scope.unpinned == ("x",), pattern


def test_only_the_given_labels_name_a_service() -> None:
    assert read_scope('x{team="a"}', ("team",)).services == {"a"}
    assert read_scope('x{service="a"}', ("team",)).unpinned == ("x",)


@given(st.text(max_size=60))
def test_any_text_is_read_or_refused_as_not_promql(text: str) -> None:
    try:
        read_scope(text, DEFAULT_SERVICE_LABELS)
    except PromQLError as error:
        assert str(error) and "\n" not in str(error)
