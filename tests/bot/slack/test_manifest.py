"""The shipped Slack manifests ask for what the adapter uses, and point at /slack/events."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack.adapter import CHANNEL_BACK_EVENTS, COMMAND

SLACK = Path(__file__).resolve().parents[3] / "slack"


def test_http_manifest_points_every_url_at_slack_events() -> None:
    manifest = yaml.safe_load((SLACK / "manifest.yaml").read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    settings = manifest["settings"]
    urls = [
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert settings["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "member_joined_channel",
        "channel_unarchive",
        "group_unarchive",
    ]
    assert settings["socket_mode_enabled"] is False
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "files:write"} <= scopes


def test_socket_mode_manifest_has_no_urls() -> None:
    manifest = yaml.safe_load((SLACK / "manifest.socket-mode.yaml").read_text())
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["interactivity"]


def test_both_manifests_ask_for_what_the_adapter_uses() -> None:
    """users.info needs users:read (names, Slack Connect teams); finding a post again after a
    crash needs the history scopes; answers that land nowhere else and pages go to the app's
    DMs, which conversations.open needs im:write for; the events that say a channel takes
    Lookout's messages again come with the channels:read and groups:read scopes (and
    conversations.info names the channel with them)."""
    for name in ("manifest.yaml", "manifest.socket-mode.yaml"):
        manifest = yaml.safe_load((SLACK / name).read_text())
        scopes = set(manifest["oauth_config"]["scopes"]["bot"])
        assert {"users:read", "chat:write", "channels:history", "groups:history"} <= scopes, name
        assert {"im:write", "channels:read", "groups:read"} <= scopes, name
        assert manifest["features"]["app_home"]["messages_tab_enabled"] is True, name
        events = manifest["settings"]["event_subscriptions"]["bot_events"]
        assert set(events) == {"app_mention", *CHANNEL_BACK_EVENTS}, name
