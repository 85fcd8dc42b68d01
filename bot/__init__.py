"""The Lookout process: settings, composition root, HTTP app, chat adapters, background work.

Rooms: the process itself lives here (`main`, `cli`, `settings`, `config`, `http`, `logs`,
`metrics`, `demo`); each chat platform has a folder (`slack/`, `teams/`, `console/`); work that
runs outside a request or alongside it (ingestion, the notifier, tracked messages, runbook runs,
live blast-radius trackers) lives in `background/`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lookout")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
