"""The config file (LOOKOUT_CONFIG) and Sloth SLO files read from generated YAML: edits of
the demo config and of the real Sloth files of ../shared/fixtures. Each reader raises only
its documented error: ConfigError for the config, ValueError naming the file for SLOs."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, load_config
from bot.schedule_config import SloConfig, load_slos
from tests.conftest import FIXTURES
from tests.mutations import SETTINGS as BASE
from tests.yaml_mutations import EDGES, yaml_documents

SETTINGS = settings(BASE, max_examples=60)
SLOTH = sorted((FIXTURES / "sloth").glob("0[1-3]_*.yml"))
CONFIG = """
routing:
  default_channel: "#incidents"
services:
  - name: payments
    channel: "#payments"
  - name: checkout
    depends_on: [payments]
grouping:
  service_labels: [service, job]
"""
if not SLOTH:
    pytest.skip(f"the shared fixtures are not at {FIXTURES}", allow_module_level=True)


def written(text: str | bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="lookout-properties-"))
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@settings(SETTINGS)
@given(yaml_documents(CONFIG))
def test_a_config_loads_or_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        load_config(written(text, "lookout.yaml"))


@settings(SETTINGS)
@given(st.sampled_from(SLOTH).flatmap(lambda path: yaml_documents(path.read_text())))
def test_an_slo_file_loads_or_raises_value_error_naming_it(text: str) -> None:
    path = written(text, "slo.yml")
    try:
        slos = load_slos(SloConfig(files=[path.name]), config_path=path.parent / "lookout.yaml")
    except ValueError as error:
        assert "slo.yml" in str(error) or "defined twice" in str(error)
        return
    for slo in slos:
        assert 0 < slo.objective < 1
        assert (slo.ratio_query is None) != (slo.error_query is None)


@pytest.mark.parametrize("text", [*EDGES, b"routing: \xff\xfe"])
def test_yaml_edge_cases_are_config_errors(text: str | bytes) -> None:
    """Impossible dates (`2001-13-14`), deep nesting and bytes that are not UTF-8 once
    escaped as ValueError, RecursionError and UnicodeDecodeError instead of ConfigError."""
    with contextlib.suppress(ConfigError):
        load_config(written(text, "lookout.yaml"))


@pytest.mark.parametrize("text", [*EDGES, b"version: \xff\xfe"])
def test_yaml_edge_cases_are_slo_file_errors(text: str | bytes) -> None:
    path = written(text, "slo.yml")
    with pytest.raises(ValueError, match=r"slo\.yml"):
        load_slos(SloConfig(files=[path.name]), config_path=path.parent / "lookout.yaml")


def test_the_real_sloth_files_load() -> None:
    for path in SLOTH:
        assert yaml.safe_load(path.read_text())["version"] == "prometheus/v1"
        copy = written(path.read_text(), path.name)
        assert load_slos(SloConfig(files=[copy.name]), config_path=copy.parent / "x.yaml")
