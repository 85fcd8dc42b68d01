"""No answer shows pydantic's own words: every argument of every command, given a value it
cannot take, is answered with one plain sentence naming the argument."""

from __future__ import annotations

import pytest
from pydantic.fields import FieldInfo

from skills import grammar
from skills.catalog import default_registry
from tests.skills.conftest import Harness, text_of

# SQLite pass only: about argument wording, answered before the store.
pytestmark = pytest.mark.sqlite

RAW = ("Input should", "Value error", "validation error", "pydantic", "Field required", "[type=")
BAD_VALUES = ("-5", "9999999", "not-a-value" * 300)


def typed_options(info: FieldInfo) -> bool:
    return not grammar._is_bool(info) and grammar._positional(info) is None


def cases() -> list[str]:
    found = []
    for skill in default_registry().skills:
        for name, info in skill.args_model.model_fields.items():
            if typed_options(info):
                found += [f"{skill.verb} {grammar.option_name(name)} {bad}" for bad in BAD_VALUES]
        found.append(f"{skill.verb} --no-such-option 1")
    return found


@pytest.mark.parametrize("command", cases())
async def test_bad_values_get_a_plain_sentence(harness: Harness, command: str) -> None:
    answer = text_of(await harness.say(command))
    for raw in RAW:
        assert raw not in answer, (command, answer)
    assert "\n" not in answer.split(" Usage: ")[0], (command, answer)
