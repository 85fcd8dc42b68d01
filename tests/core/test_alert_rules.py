"""What an alert's rule queried, from the generatorURL Prometheus gives every alert."""

from __future__ import annotations

import pytest

from core.alert_rules import metric_names, rule_expression


def test_the_expression_comes_from_prometheus_generator_url() -> None:
    url = "http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0&g0.tab=1"
    assert rule_expression(url) == "pg_up == 0"
    assert rule_expression("http://prometheus:9090/graph") is None
    assert rule_expression(None) is None
    assert rule_expression("http://[::1") is None


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("pg_up == 0", {"pg_up"}),
        ('max by (instance) (pg_up{job="postgres"}) < 1', {"pg_up"}),
        ('{__name__="pg_up", job=~"pg.*"} == 0', {"pg_up"}),
        (
            'sum(rate(http_requests_total{code=~"5.."}[5m])) by (service)'
            " / sum(rate(http_requests_total[5m])) by (service) > 0.05",
            {"http_requests_total"},
        ),
        ("job:request_errors:ratio5m offset 1h > bool 0.1", {"job:request_errors:ratio5m"}),
        ('absent(up{job="redis"})', {"up"}),
        ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 0.8", {"x_bucket"}),
        (
            "predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0",
            {"node_filesystem_avail_bytes"},
        ),
        ('up == 0 and on (instance) label_replace(y, "a", "$1", "b", "(.*)")', {"up", "y"}),
        ("", set()),
    ],
)
def test_metric_names_are_the_selected_series(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names
