"""`policies:` in the config: read into each project's rules, or refused at load with one
line naming the rule; whatever a rule says, loading raises nothing but ConfigError."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, load_config


def written(data: dict[str, Any]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="lookout-policies-"))
    path = folder / "lookout.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_top_level_rules_are_the_default_projects_and_projects_have_their_own() -> None:
    config = load_config(
        written(
            {
                "policies": [{"name": "quiet", "when": "age > 30m", "then": "auto_close"}],
                "projects": [
                    {
                        "name": "payments",
                        "services": ["checkout"],
                        "policies": [
                            {"name": "quiet", "when": "precedent", "then": "post_suggestion"},
                            {
                                "name": "up",
                                "when": "flapping",
                                "then": "set_severity:critical",
                            },
                        ],
                    },
                    {"name": "platform"},
                ],
            }
        )
    )
    rules = config.policy_map()
    assert sorted(rules) == ["default", "payments"]
    assert [(r.name, str(r.action)) for r in rules["default"]] == [("quiet", "auto_close")]
    assert [(r.name, str(r.action)) for r in rules["payments"]] == [
        ("quiet", "post_suggestion"),
        ("up", "set_severity:critical"),
    ]
    assert rules["default"][0].condition.text == "age > 30m"


def test_no_policies_no_rules() -> None:
    assert load_config(written({"routing": {"default_channel": "#x"}})).policy_map() == {}


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"when": "sev == 1", "then": "notify"}, "policy bad: unknown name `sev`"),
        ({"when": "age > 1", "then": "reboot"}, "policy bad: unknown action `reboot`"),
        ({"when": "age > 1", "then": "run_runbook"}, "policy bad: running a runbook is not"),
        ({"when": "__import__('os')", "then": "notify"}, "policy bad: `__import__('os')` is not"),
        ({"when": "age >", "then": "notify"}, "policy bad: cannot read the condition"),
        ({"when": "age > 1", "then": "notify", "once": False}, "policies.0.once"),
        ({"when": "age > 1", "then": "notify", "runs": "x"}, "policies.0.runs"),
    ],
)
def test_a_bad_rule_is_one_line_naming_it(rule: dict[str, Any], says: str) -> None:
    path = written({"policies": [{"name": "bad", **rule}]})
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "\n" not in message
    assert says in message


def test_rules_of_one_project_have_distinct_names_and_errors_name_the_project() -> None:
    rule = {"name": "twice", "when": "resolved", "then": "notify"}
    path = written({"projects": [{"name": "payments", "policies": [rule, rule]}]})
    with pytest.raises(ConfigError, match="project payments: policy twice: two rules"):
        load_config(path)


@settings(max_examples=200, deadline=None)
@given(when=st.text(max_size=200), then=st.text(max_size=40))
def test_whatever_a_rule_says_loading_raises_only_config_error(when: str, then: str) -> None:
    path = written({"policies": [{"name": "any", "when": when, "then": then}]})
    try:
        config = load_config(path)
    except ConfigError:
        return
    assert [rule.name for rule in config.policy_map()["default"]] == ["any"]
