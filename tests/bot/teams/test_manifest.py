"""teams/manifest.json: the shape Teams checks on upload, and commands that really exist."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

from skills.catalog import default_registry
from tests.conftest import REPO

TEAMS_APP = REPO / "teams"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TEAMS_APP / "manifest.json").read_text())
    return data


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_manifest_has_what_an_upload_requires() -> None:
    app = manifest()
    assert app["manifestVersion"] == "1.17"
    assert app["$schema"].endswith("/v1.17/MicrosoftTeams.schema.json")
    assert GUID.match(app["id"])
    for key in ("name", "websiteUrl", "privacyUrl", "termsOfUseUrl"):
        assert app["developer"][key]
    assert all(app["developer"][k].startswith("https://") for k in ("websiteUrl", "privacyUrl"))
    assert len(app["name"]["short"]) <= 30 and len(app["description"]["short"]) <= 80
    assert re.match(r"^#[0-9A-Fa-f]{6}$", app["accentColor"])
    assert png_size(TEAMS_APP / app["icons"]["color"]) == (192, 192)
    assert png_size(TEAMS_APP / app["icons"]["outline"]) == (32, 32)


def test_the_bot_serves_teams_chats_and_the_commands_exist() -> None:
    (bot,) = manifest()["bots"]
    assert GUID.match(bot["botId"]) and bot["botId"] == manifest()["id"]
    assert set(bot["scopes"]) == {"team", "personal", "groupChat"}
    (commands,) = bot["commandLists"]
    titles = [command["title"] for command in commands["commands"]]
    assert titles == ["help", "incidents", "show", "ack", "resolve"]
    registry = default_registry()
    for command in commands["commands"]:
        assert registry.get(command["title"]) is not None, command["title"]
        assert len(command["title"]) <= 32 and len(command["description"]) <= 128
