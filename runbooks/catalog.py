"""The runbooks Lookout offers right now: the shipped library, overridden by the team's own
synced directory (a runbook of the same name there wins)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from runbooks.loader import LoadResult, load_library
from runbooks.schema import Runbook
from runbooks.sync import RunbookSync


@dataclass(frozen=True)
class CatalogEntry:
    runbook: Runbook
    source: str  # "library" or the synced file's path
    version: str  # a commit hash, or the library's digest


@dataclass
class RunbookCatalog:
    library: LoadResult | None = None
    sync: RunbookSync | None = None
    _library_version: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.library is not None:
            digest = hashlib.sha256()
            for name in sorted(self.library.sources):
                digest.update(self.library.sources[name].read_bytes())
            self._library_version = "library-" + digest.hexdigest()[:12]

    @classmethod
    def shipped(cls, *, sync: RunbookSync | None = None) -> RunbookCatalog:
        return cls(library=load_library(), sync=sync)

    def entries(self) -> dict[str, CatalogEntry]:
        found: dict[str, CatalogEntry] = {}
        if self.library is not None:
            for name, runbook in self.library.runbooks.items():
                found[name] = CatalogEntry(runbook, "library", self._library_version)
        if self.sync is not None:
            for name, synced in self.sync.runbooks.items():
                found[name] = CatalogEntry(synced.runbook, synced.path, synced.version)
        return found

    def get(self, name: str) -> CatalogEntry | None:
        return self.entries().get(name)
