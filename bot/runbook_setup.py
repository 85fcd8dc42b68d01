"""Runbooks in the process: which ones are offered, how they are planned and executed."""

from __future__ import annotations

import logging
import os

import httpx

from bot.config import LookoutConfig
from bot.settings import Settings
from integrations.prometheus import PrometheusClient
from runbooks.catalog import RunbookCatalog
from runbooks.executor import Executor
from runbooks.loader import LoadResult, load_directory, load_library
from runbooks.sync import RunbookSync

log = logging.getLogger(__name__)


def runbook_catalog(config: LookoutConfig) -> RunbookCatalog:
    """The library (unless turned off) with `folders` beside it, and the synced directory."""
    directory = config.runbooks.directory
    library = load_library() if config.runbooks.library else LoadResult()
    for folder in config.runbooks.folders:
        extra = load_directory(folder)
        for problem in extra.problems:
            log.warning("runbook refused", extra={"problem": str(problem)})
        library.runbooks.update(extra.runbooks)
        library.sources.update(extra.sources)
    has_any = config.runbooks.library or config.runbooks.folders
    return RunbookCatalog(
        library=library if has_any else None,
        sync=RunbookSync(directory, environ=os.environ) if directory else None,
    )


def runbook_executor(
    settings: Settings, config: LookoutConfig, http: httpx.AsyncClient
) -> Executor:
    """Steps see only the allowlisted part of Lookout's environment; `{{vars.*}}` get the
    machines Lookout was told about unless the config names them itself."""
    execution = config.runbooks.execution
    variables = dict(execution.variables)
    for name, value in (
        ("alertmanager_url", settings.alertmanager_url),
        ("prometheus_url", settings.prometheus_url),
    ):
        if value:
            variables.setdefault(name, value)
    execution = execution.model_copy(update={"variables": variables})
    query = (
        PrometheusClient(settings.prometheus_url, http).query if settings.prometheus_url else None
    )
    return Executor(execution, environ=os.environ, http=http, query=query)
