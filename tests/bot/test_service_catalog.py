"""The process's service topology: config + Backstage files merged, refreshed, last good kept;
and the composition root hands it to ingestion and skills."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.main import build
from bot.service_catalog import ServiceCatalog
from bot.settings import Settings
from core.topology import BACKSTAGE, CONFIG

BACKSTAGE_FILES = Path(__file__).resolve().parent.parent / "core" / "data" / "backstage"

CONFIG_YAML = """
services:
  - name: checkout-api
    team: checkout
    tier: 1
    depends_on: [sessions-db]
    annotations: {users: 5000}
catalog:
  backstage: ["backstage/*.yaml"]
  refresh_minutes: 5
grouping:
  window_minutes: 15
  topology_hops: 3
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    shutil.copytree(BACKSTAGE_FILES, tmp_path / "backstage")
    (tmp_path / "lookout.yaml").write_text(CONFIG_YAML)
    return tmp_path


def catalog_of(folder: Path) -> ServiceCatalog:
    path = folder / "lookout.yaml"
    return ServiceCatalog.from_config(load_config(path), config_path=path, prometheus_url=None)


def test_config_and_backstage_files_are_merged(config_dir: Path) -> None:
    topology = catalog_of(config_dir).current()
    checkout = topology.service("checkout-api")
    # The config wins for what it declares; edges are the union of both sources.
    assert (checkout.team, checkout.tier, checkout.users) == ("checkout", 1, 5000)
    assert set(checkout.depends_on) >= {"sessions-db", "payments-api", "redis-sessions"}
    assert checkout.sources == {CONFIG, BACKSTAGE}
    assert topology.service("payments-postgres").tier == 1  # only Backstage knows it
    assert "checkout-api" in topology.upstream("storefront-web")


def test_grouping_rules_come_from_the_config(config_dir: Path) -> None:
    rules = load_config(config_dir / "lookout.yaml").grouping
    assert (rules.window_minutes, rules.topology_hops, rules.reopen_grace_minutes) == (15, 3, 10)


def test_a_bad_grouping_rule_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "lookout.yaml"
    path.write_text("grouping:\n  topology_hopz: 2\n")
    with pytest.raises(ConfigError, match="topology_hopz"):
        load_config(path)


async def test_a_broken_file_keeps_the_last_good_catalog(config_dir: Path) -> None:
    catalog = catalog_of(config_dir)
    before = catalog.current()
    assert "search-elasticsearch" in before.upstream("search-api")
    (config_dir / "backstage" / "search.yaml").write_text("kind: Component\nmetadata: [oops\n")
    assert not catalog.reload_backstage()
    assert catalog.current() is before
    (config_dir / "backstage" / "search.yaml").unlink()
    await catalog.refresh()
    assert "search-elasticsearch" not in catalog.current()  # only search.yaml named it
    assert "storefront-web" in catalog.current()


def test_the_composition_root_shares_one_topology(config_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", config=config_dir / "lookout.yaml")
    lookout = build(settings)
    topology = lookout.service_catalog.current()
    assert "payments-api" in topology
    assert lookout.dispatcher._topology() is topology
    assert lookout.ingestor._topology() is topology


def test_an_invalid_service_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "lookout.yaml"
    path.write_text("services:\n  - name: x\n    annotations: {users: many}\n")
    with pytest.raises(ConfigError, match="users must be a number"):
        build(Settings(data_dir=tmp_path / "data", config=path))
