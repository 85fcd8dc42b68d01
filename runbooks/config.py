"""What this installation lets runbooks do: programs, hosts, environment, limits.

The composition root fills `ExecutionConfig` from LOOKOUT_CONFIG's `runbooks:` section; nothing
here reads the process environment itself.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

# A shell (or busybox, which is one) turns any argument into a program; runbook steps are argv
# lists precisely so that no shell ever sees a parameter.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"})
DEFAULT_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "KUBECONFIG"]


class ExecutionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    executables: list[str] = Field(
        default_factory=list,
        description="programs steps may start: absolute paths, or names resolved on PATH once",
    )
    http_hosts: list[str] = Field(
        default_factory=list,
        description="hosts http steps may reach: 'host', 'host:port' or '*.example.com'",
    )
    env_allowlist: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENV),
        description="variables a step's process may see, from Lookout's environment or the step",
    )
    variables: dict[str, str] = Field(
        default_factory=dict,
        description="operator values templates use as {{vars.name}}, e.g. alertmanager_url",
    )
    output_limit_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    default_timeout_seconds: float = Field(default=60, gt=0)
    max_timeout_seconds: float = Field(default=3600, gt=0)
    manual_timeout_seconds: float = Field(default=30 * 60, gt=0)
    promql_timeout_seconds: float = Field(default=5 * 60, gt=0)
    kill_grace_seconds: float = Field(default=2, ge=0, le=60)
    working_directory: Path | None = None
    redact_patterns: list[str] = Field(default_factory=list, description="extra secret regexes")

    @field_validator("executables")
    @classmethod
    def _no_shells(cls, executables: list[str]) -> list[str]:
        for entry in executables:
            if Path(entry).name in SHELLS:
                raise ValueError(f"{entry!r} is a shell; steps are argv lists and never need one")
        return executables

    def resolve_executables(self, search_path: str | None) -> Executables:
        """Resolve names on `search_path` now, so a later change of PATH cannot swap the
        program a step starts."""
        mapping: dict[str, str] = {}
        missing: list[str] = []
        # shutil.which would fall back to this process's PATH; the caller's value decides.
        search = search_path if search_path is not None else os.defpath
        for entry in self.executables:
            resolved = entry if os.path.isabs(entry) else shutil.which(entry, path=search)
            if resolved is None or not os.access(resolved, os.X_OK):
                missing.append(entry)
                continue
            if Path(os.path.realpath(resolved)).name in SHELLS:
                missing.append(entry)  # a link to a shell is a shell
                continue
            mapping[entry] = resolved
            mapping[resolved] = resolved
            mapping.setdefault(Path(resolved).name, resolved)
        return Executables(mapping, tuple(missing))

    def host_allowed(self, url: httpx.URL) -> bool:
        host = url.host.lower().rstrip(".")
        port = url.port or (443 if url.scheme == "https" else 80)
        if url.scheme not in ("http", "https") or not host:
            return False
        for entry in self.http_hosts:
            allowed = entry.lower()
            if allowed.startswith("*."):
                if host.endswith(allowed[1:]) and host != allowed[2:]:
                    return True
            else:
                entry_url = httpx.URL(f"http://{allowed}")
                # httpx drops a default port ("host:80" parses as no port), so read it back.
                entry_port = entry_url.port or (80 if re.search(r":\d+$", allowed) else None)
                if host == entry_url.host and entry_port in (None, port):
                    return True
        return False

    def step_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The part of Lookout's own environment a step's process inherits."""
        return {name: environ[name] for name in self.env_allowlist if name in environ}


@dataclass(frozen=True)
class Executables:
    """Allowed program names and paths → the absolute path that will be started."""

    paths: Mapping[str, str]
    missing: tuple[str, ...] = ()  # allowed but not found (or a shell in disguise): log these

    def resolve(self, program: str) -> str | None:
        return self.paths.get(program)
