"""Starting `lookout serve`: a bad setting is one line naming it (status 2, no traceback), and
a process that never listened posts nothing to any chat."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from bot.main import build
from bot.settings import Settings
from runbooks.sync import SyncReport
from tests.bot.slack.conftest import SIGNING_SECRET
from tests.bot.slack.fake_slack import FakeSlack, start_fake_slack
from tests.conftest import REPO, free_port, start_server

# SQLite pass only: about settings and the process, not the store.
pytestmark = pytest.mark.sqlite


def serve(
    *args: str, env: dict[str, str], command: tuple[str, ...] = (sys.executable, "-m", "bot")
) -> subprocess.CompletedProcess[str]:
    """`lookout serve ARGS` with `env` over a clean environment, the worktree first on the path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKOUT_", "SLACK_"))}
    return subprocess.run(
        [*command, "serve", *args],
        env={**clean, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A loopback port something else already listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "broken.yaml").write_text("access: [\n")
    (tmp_path / "invalid.yaml").write_text("grouping: 5\naccess:\n  default_role: overlord\n")
    return tmp_path


BAD_ENV = [
    ({"LOOKOUT_PORT": "abc"}, ["LOOKOUT_PORT: Input should be a valid integer", "'abc'"]),
    ({"LOOKOUT_PORT": "0"}, ["LOOKOUT_PORT: Input should be greater than or equal to 1"]),
    ({"LOOKOUT_PORT": "70000"}, ["LOOKOUT_PORT: Input should be less than or equal to 65535"]),
    ({"LOOKOUT_HOST": ""}, ["LOOKOUT_HOST: String should have at least 1 character"]),
    ({"LOOKOUT_HOST": "no-such-host.invalid"}, ["LOOKOUT_HOST: cannot resolve"]),
    ({"LOOKOUT_LOG_LEVEL": "LOUD"}, ["LOOKOUT_LOG_LEVEL: not a log level", "'LOUD'"]),
    ({"LOOKOUT_CONSOLE_AUTH": "open"}, ["LOOKOUT_CONSOLE_AUTH: Input should be 'local'"]),
    ({"LOOKOUT_TRUSTED_PROXIES": "10.0.0.0/8,proxy"}, ["LOOKOUT_TRUSTED_PROXIES: 'proxy' is"]),
    ({"LOOKOUT_CONSOLE_USER_HEADER": "X User"}, ["LOOKOUT_CONSOLE_USER_HEADER: String"]),
    ({"LOOKOUT_TEAMS_INSECURE_DEV": "maybe"}, ["LOOKOUT_TEAMS_INSECURE_DEV: Input should be"]),
    ({"PROMETHEUS_URL": "prometheus:9090"}, ["PROMETHEUS_URL: not an http(s) URL"]),
    ({"SLACK_API_URL": "http://[::1"}, ["SLACK_API_URL: not a URL"]),
    (
        {"LOOKOUT_PORT": "abc", "LOOKOUT_LOG_LEVEL": "LOUD"},
        ["LOOKOUT_PORT: Input should be", "; LOOKOUT_LOG_LEVEL: not a log level"],
    ),
    ({"LOOKOUT_DATA_DIR": "{files}/a-file"}, ["LOOKOUT_DATA_DIR: {files}/a-file is not a folder"]),
    ({"LOOKOUT_DATA_DIR": "{files}/a-file/sub"}, ["LOOKOUT_DATA_DIR: cannot write in"]),
    ({"LOOKOUT_DATA_DIR": "/proc/lookout"}, ["LOOKOUT_DATA_DIR: cannot write in /proc/lookout"]),
    ({"LOOKOUT_CONFIG": "{files}/missing.yaml"}, ["LOOKOUT_CONFIG: cannot read", "No such file"]),
    ({"LOOKOUT_CONFIG": "{files}/broken.yaml"}, ["LOOKOUT_CONFIG: cannot read", "line 2"]),
    ({"LOOKOUT_CONFIG": "{files}"}, ["LOOKOUT_CONFIG: cannot read", "Is a directory"]),
    (
        {"LOOKOUT_CONFIG": "{files}/invalid.yaml"},
        ["is not a valid Lookout config: grouping: Input should be a valid dictionary"],
    ),
    ({"LOOKOUT_DATABASE_URL": "nonsense"}, ["LOOKOUT_DATABASE_URL: not a database URL"]),
    ({"LOOKOUT_DATABASE_URL": "foo+bar://x/y"}, ["LOOKOUT_DATABASE_URL: cannot open foo+bar"]),
    (
        {"LOOKOUT_DATABASE_URL": "sqlite+aiosqlite:///{files}/no/such/dir/x.db"},
        ["LOOKOUT_DATABASE_URL: cannot open", "unable to open database file"],
    ),
    (
        {"LOOKOUT_DATABASE_URL": "postgresql+asyncpg://lookout:hunter2@127.0.0.1:{port}/x"},
        ["LOOKOUT_DATABASE_URL: cannot open postgresql+asyncpg://lookout:***@127.0.0.1:"],
    ),
]


@pytest.mark.parametrize(("env", "expected"), BAD_ENV, ids=[str(env) for env, _ in BAD_ENV])
def test_a_bad_setting_is_one_line_and_status_2(
    env: dict[str, str], expected: list[str], files: Path
) -> None:
    port = str(free_port())  # nothing listens there: a database that does not answer

    def fill(text: str) -> str:
        return text.replace("{files}", str(files)).replace("{port}", port)

    settings = {"LOOKOUT_DATA_DIR": str(files / "data"), "LOOKOUT_PORT": str(free_port())}
    result = serve(env={**settings, **{k: fill(v) for k, v in env.items()}})
    assert_one_clear_line(result, *(fill(text) for text in expected))
    assert "hunter2" not in result.stderr


def test_bad_flags_are_one_line_and_status_2(tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path)}
    assert_one_clear_line(serve("--port", "abc", env=env), "argument --port: invalid int value")
    assert_one_clear_line(
        serve("--port", "70000", env=env), "--port: Input should be less than or equal to 65535"
    )


def test_the_lookout_command_says_the_same(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "lookout"
    if not command.is_file():
        pytest.skip(f"no `lookout` command beside {sys.executable}")
    result = serve(env={"LOOKOUT_PORT": "abc"}, command=(str(command),))
    assert_one_clear_line(result, "LOOKOUT_PORT: Input should be a valid integer")


def test_a_port_in_use_is_one_line(occupied_port: int, tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path), "LOOKOUT_PORT": str(occupied_port)}
    assert_one_clear_line(serve(env=env), f"LOOKOUT_PORT: 127.0.0.1:{occupied_port} is already")
    flag = serve("--port", str(occupied_port), env={"LOOKOUT_DATA_DIR": str(tmp_path)})
    assert_one_clear_line(flag, f"--port: 127.0.0.1:{occupied_port} is already in use")


# ------------------------------------------------------------- nothing posted, once


def broken_runbook_repo(tmp_path: Path) -> Path:
    """A git checkout whose pull fails (its remote is gone) holding one rejected runbook."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "broken.yaml").write_text("name: Not A Name\ntitle: broken\nrisk: low\nsteps: []\n")
    for step in (
        ["init", "-q"],
        ["remote", "add", "origin", str(tmp_path / "gone.git")],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "runbooks"],
    ):
        subprocess.run(["git", "-C", str(folder), *step], check=True, capture_output=True)
    config = tmp_path / "lookout.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "routing": {"admin_channel": "#lookout-admins"},
                "runbooks": {"library": False, "directory": str(folder)},
            }
        )
    )
    return config


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake, server, task = await start_fake_slack()
    try:
        yield fake
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_a_port_in_use_posts_nothing_to_chat(
    fake_slack: FakeSlack, occupied_port: int, tmp_path: Path
) -> None:
    env = {
        "LOOKOUT_DATA_DIR": str(tmp_path / "data"),
        "LOOKOUT_PORT": str(occupied_port),
        "LOOKOUT_CONFIG": str(broken_runbook_repo(tmp_path)),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    # The fake Slack answers on this event loop while the process runs.
    result = await asyncio.to_thread(serve, env=env)
    assert_one_clear_line(result, "is already in use")
    assert fake_slack.calls == []


async def test_a_server_that_cannot_bind_posts_nothing(
    fake_slack: FakeSlack, occupied_port: int, tmp_path: Path
) -> None:
    """The same through the server the process runs (bound before the application starts)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        port=occupied_port,
        config=broken_runbook_repo(tmp_path),
        slack_bot_token=SecretStr("xoxb-test-token"),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=fake_slack.api_url,
    )
    with pytest.raises(OSError):
        await start_server(settings)
    assert fake_slack.calls == []


async def test_the_sync_notice_waits_for_the_server_and_names_the_error_once(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        config=broken_runbook_repo(tmp_path),
        slack_bot_token=SecretStr("xoxb-test-token"),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=fake_slack.api_url,
    )
    server, task, _ = await start_server(settings)
    try:
        [post] = await fake_slack.wait_for("chat.postMessage")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    text = str(post.params["text"])
    assert "Runbook sync" in text and "rejected: broken.yaml" in text
    assert text.count("gone.git") == 1, text  # the pull's error, said once


async def test_notices_are_held_until_the_server_listens(tmp_path: Path) -> None:
    lookout = build(Settings(data_dir=tmp_path / "data"))
    await lookout.database.upgrade()
    try:
        await lookout.runbooks_synced(SyncReport(version=None, error="fatal: no remote 'origin'"))
        async with lookout.database.unit_of_work() as uow:
            before = await uow.console.in_channel(channel="#incidents", thread_id=None, limit=10)
        await lookout.serve_ready()
        async with lookout.database.unit_of_work() as uow:
            after = await uow.console.in_channel(channel="#incidents", thread_id=None, limit=10)
    finally:
        await lookout.http.aclose()
        await lookout.database.dispose()
    assert before == []
    [notice] = after
    assert str(notice.body["text"]).count("fatal: no remote 'origin'") == 1
