"""Skills and their registry: each skill declares its verb, aliases, grammar and role as data."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from rapidfuzz.distance import OSA

from skills import grammar
from skills.contract import Role

if TYPE_CHECKING:
    from skills.context import Answer, SkillContext

ArgsT = TypeVar("ArgsT", bound=BaseModel)


class NoArgs(BaseModel):
    """For skills that take nothing."""


class Skill(ABC, Generic[ArgsT]):
    """One command. `handle` runs in one unit of work and answers with a Reply, or with an
    `Outside` (skills.context) when it must ask a machine: what it needs from the database
    is read first, the machine is asked with no transaction open, and the answer is built
    (and stored) in a fresh unit of work."""

    verb: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str]
    role: ClassVar[Role] = Role.VIEWER
    # Runs for anyone Lookout can identify, member of the project or not (help, whoami).
    open_to_all: ClassVar[bool] = False
    args_model: ClassVar[type[BaseModel]] = NoArgs

    @abstractmethod
    async def handle(self, ctx: SkillContext, args: ArgsT) -> Answer: ...

    @property
    def usage(self) -> str:
        return grammar.usage(self.verb, self.args_model)


AnySkill = Skill[BaseModel]


class Registry:
    def __init__(self) -> None:
        self._by_name: dict[str, AnySkill] = {}
        self._skills: list[AnySkill] = []

    def register(self, skill: Skill[ArgsT]) -> None:
        if not inspect.iscoroutinefunction(skill.handle):
            raise TypeError(f"{type(skill).__name__}.handle must be `async def`")
        for name in (skill.verb, *skill.aliases):
            if name in self._by_name:
                raise ValueError(f"two skills answer to {name!r}")
            self._by_name[name] = skill  # type: ignore[assignment]
        self._skills.append(skill)  # type: ignore[arg-type]

    def get(self, name: str) -> AnySkill | None:
        return self._by_name.get(name.lower())

    def suggest(self, name: str) -> list[str]:
        """Up to three command names `name` may have meant, closest first: those within a
        few typos (optimal string alignment distance: an adjacent swap counts one; at most
        1 for a word of up to 4 letters, 2 up to 8, 3 beyond), then those it begins (3+
        letters). Latin look-alikes from other scripts (Cyrillic `асk`) are read as Latin
        first. A word merely sharing letters with a command (`foo`, `info`) is no typo."""
        typed = latin_skeleton(name).lower()
        allowed = 1 if len(typed) <= 4 else 2 if len(typed) <= 8 else 3
        scored: list[tuple[int, int, str]] = []
        for known in self._by_name:
            distance = OSA.distance(typed, known, score_cutoff=allowed)
            if distance <= allowed:
                scored.append((0, distance, known))
            elif len(typed) >= 3 and known.startswith(typed):
                scored.append((1, len(known) - len(typed), known))
        return [known for *_, known in sorted(scored)[:3]]

    @property
    def skills(self) -> list[AnySkill]:
        return list(self._skills)


# Letters of other scripts drawn like Latin ones (pairs from Unicode's confusables list,
# UTS #39): what a keyboard layout left switched, or a paste, puts into a command word.
_LOOK_ALIKES = str.maketrans(
    "аеорсухіјѕԁԛԝкοραινυκχεАВЕКМНОРСТУХІЈЅΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwkopaivukxeABEKMHOPCTYXIJSABEHIKMNOPTYX",
)


def latin_skeleton(word: str) -> str:
    """`word` with Cyrillic and Greek letters that look Latin replaced by those letters."""
    return word.translate(_LOOK_ALIKES)
