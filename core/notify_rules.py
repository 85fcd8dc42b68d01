"""The `notify:` section: people and their addresses, outbound webhooks, PagerDuty keys.

```yaml
notify:
  people:
    dana: {name: Dana Lee, slack: U024BE7LH, teams: 6f1c…-aad-object-id, email: dana@example.com}
  webhooks:
    ops: {url: "https://hooks.example/lookout", secret: "…"}
  pagerduty:
    routing_keys: {database: R0UT1NGKEY…}   # `pagerduty:database`; plain `pagerduty` uses
                                            # PAGERDUTY_ROUTING_KEY
```

A person named in a schedule or a `user:` target is looked up by key, then by any of their
ids or email; a bare Slack id (`U…`, `W…`) or email address works without an entry.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    slack: str | None = None
    teams: str | None = None
    email: str | None = None


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    secret: str | None = None
    timeout_seconds: float = Field(default=10, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class PagerDutyRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routing_keys: dict[str, str] = Field(default_factory=dict)


class NotifyRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    people: dict[str, Person] = Field(default_factory=dict)
    webhooks: dict[str, WebhookTarget] = Field(default_factory=dict)
    pagerduty: PagerDutyRules = Field(default_factory=PagerDutyRules)
    mention_in_thread: bool = True  # a paged person is also @mentioned in the incident thread

    def person(self, reference: str) -> tuple[str, Person] | None:
        """The person `reference` names: a key, an id on any platform, or an email."""
        if reference in self.people:
            return reference, self.people[reference]
        lowered = reference.lower()
        for key, person in self.people.items():
            if reference in (person.slack, person.teams) or lowered == (person.email or "").lower():
                return key, person
            if person.name and person.name.lower() == lowered:
                return key, person
        if _SLACK_USER.match(reference):
            return reference, Person(slack=reference)
        if _EMAIL.match(reference):
            return reference, Person(email=reference)
        return None


def target_problems(targets: list[str], notify: NotifyRules) -> list[str]:
    """What in the policies' `notify` lists names nothing configured (as `Target` strings).
    A schedule is not checked here: it may come later (`missing_schedules`), and a page to
    one that is missing fails visibly and notifies the next level at once."""
    problems = []
    for text in targets:
        kind, _, name = text.partition(":")
        if kind == "webhook" and name not in notify.webhooks:
            problems.append(f"{text}: no webhook {name!r} under notify.webhooks")
        elif kind == "pagerduty" and name and name not in notify.pagerduty.routing_keys:
            problems.append(f"{text}: no routing key {name!r} under notify.pagerduty")
        elif kind == "user" and notify.person(name) is None:
            problems.append(
                f"{text}: {name!r} is not under notify.people, a Slack id or an email address"
            )
    return sorted(set(problems))


def missing_schedules(targets: list[str], schedules: set[str]) -> list[str]:
    """`oncall:` targets whose schedule is not configured."""
    return sorted(
        {text for text in targets if text.startswith("oncall:") and text[7:] not in schedules}
    )
