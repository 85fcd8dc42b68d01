# ruff: noqa: E501  (the config is written as the documentation writes it)
"""The scheduler's config sections exactly as the documentation writes them."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.main import build
from bot.schedule_config import load_slos
from bot.settings import Settings
from skills.contract import Actor, Conversation, Table
from skills.moments import in_utc
from tests.conftest import FIXTURES, free_port, start_server

CONFIG = """\
schedules:
  - {skill: "slo report", channel: "#sre", cron: "0 9 * * 1-5", timezone: Europe/Berlin}
  - {skill: "capacity report", channel: "#capacity", cron: "0 8 * * 1"}
  - {skill: "stats report", channel: "#sre", cron: "0 9 * * 1", channels: {teams: General}}
slo: {files: [slos/availability.yml, slos/apiserver.yml]}
capacity: {resources: [{name: "db-1 disk", service: postgres, usage: "node_filesystem_size_bytes - node_filesystem_free_bytes", limit: "node_filesystem_size_bytes"}]}
checks:
  - {name: CheckoutLatency, service: checkout, query: 'histogram_quantile(0.99, rate(x_bucket[5m]))'}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    (tmp_path / "slos").mkdir()
    sloth = FIXTURES / "sloth"
    shutil.copy(sloth / "01_getting-started_availability.yml", tmp_path / "slos/availability.yml")
    shutil.copy(
        sloth / "02_kubernetes-apiserver_availability_latency.yml",
        tmp_path / "slos/apiserver.yml",
    )
    path = tmp_path / "lookout.yaml"
    path.write_text(CONFIG)
    return path


def test_the_documented_shapes_load(config_file: Path) -> None:
    config = load_config(config_file)
    assert [entry.skill for entry in config.schedules] == [
        "slo report",
        "capacity report",
        "stats report",
    ]
    assert config.schedules[0].timezone == "Europe/Berlin"
    assert config.schedules[2].channels == {"teams": "General"}
    assert config.capacity.resources[0].limit == "node_filesystem_size_bytes"
    assert config.checks[0].direction == "both"
    slos = load_slos(config.slo, config_path=config_file)
    assert [slo.key for slo in slos] == [
        "myservice/requests-availability",
        "k8s-apiserver/requests-availability",
        "k8s-apiserver/requests-latency",
    ]


def test_problems_name_the_file(tmp_path: Path, config_file: Path) -> None:
    broken = tmp_path / "slos" / "availability.yml"
    broken.write_text("version: prometheus/v1\nservice: x\nslos: [{name: a, objective: 120}]\n")
    with pytest.raises(ValueError, match=r"availability.yml is not a Sloth prometheus/v1 spec"):
        load_slos(load_config(config_file).slo, config_path=config_file)
    (tmp_path / "slos" / "availability.yml").unlink()
    with pytest.raises(ConfigError, match="cannot read SLO file"):
        build(Settings(data_dir=tmp_path / "data", config=config_file))
    bad = tmp_path / "bad.yaml"
    bad.write_text('schedules: [{skill: "slo report", channel: "#sre", cron: "0 9 * *"}]\n')
    with pytest.raises(ConfigError, match="a crontab has 5 fields"):
        load_config(bad)


async def test_a_running_lookout_lists_its_schedules(tmp_path: Path, config_file: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", host="127.0.0.1", port=free_port(), config=config_file
    )
    server, task, running = await start_server(settings)
    try:
        reply = await running.lookout.dispatcher.run(
            "schedules",
            actor=Actor(platform="console", user_id="alice", display_name="alice"),
            conversation=Conversation(platform="console", channel="#sre"),
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
    (table,) = [block for block in reply.blocks if isinstance(block, Table)]
    # Without PROMETHEUS_URL the SLO, capacity and check jobs are off; the reports are on.
    assert sorted(row[0] for row in table.rows) == ["capacity report", "slo report", "stats report"]
    by_what = {row[0]: row for row in table.rows}
    assert by_what["slo report"][1] == "cron 0 9 * * mon,tue,wed,thu,fri (Europe/Berlin)"
    assert in_utc(by_what["slo report"][3]).endswith("UTC") and by_what["slo report"][4] == "—"


def test_a_schedule_naming_no_configured_project_is_refused_at_load(tmp_path: Path) -> None:
    projects = "projects:\n  - {name: payments, services: [checkout]}\n"
    cases = {
        'schedules:\n  - {skill: "slo report", channel: "#sre", cron: "0 9 * * *", project: pay}\n': (
            "schedules: 'slo report' names no project 'pay'"
        ),
        "oncall:\n  schedules:\n    db: {rotation: {users: [dana]}, project: platform}\n": (
            "oncall.schedules.db names no project 'platform'"
        ),
    }
    path = tmp_path / "lookout.yaml"
    for body, reason in cases.items():
        path.write_text(projects + body)
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        assert str(raised.value) == f"{path} is not a valid Lookout config: {reason}"
    path.write_text(
        projects + "oncall:\n  schedules:\n    db: {rotation: {users: [dana]}, project: payments}\n"
    )
    assert load_config(path).oncall.schedules["db"].project == "payments"
