"""Skills and their registry: each skill declares its verb, aliases, grammar and role as data."""

from __future__ import annotations

import difflib
import inspect
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from pydantic import BaseModel

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
        return difflib.get_close_matches(name.lower(), list(self._by_name), n=3, cutoff=0.5)

    @property
    def skills(self) -> list[AnySkill]:
        return list(self._skills)
