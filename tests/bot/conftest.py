"""Fixtures shared across the platform folders (the contract test runs every platform)."""

from tests.bot.slack.conftest import slack
from tests.bot.teams.conftest import connector, identity, teams, wired_to_fakes

__all__ = ["connector", "identity", "slack", "teams", "wired_to_fakes"]
