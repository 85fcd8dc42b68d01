"""Keep runbooks in step with a git checkout: pull, validate, version by commit hash.

A file that does not validate is rejected with its reasons, and the last good version of that
file stays in use, so a bad commit to the runbook repository never takes a working runbook
away. Storage and chat are the caller's: `sync()` returns a report to log and to show admins.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runbooks.loader import Problem, RunbookInvalid, load_file, runbook_files
from runbooks.process import run_process
from runbooks.redact import OutputBuffer, Redactor
from runbooks.schema import Runbook

log = logging.getLogger(__name__)
GIT_OUTPUT_LIMIT = 8 * 1024


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class SyncedRunbook:
    runbook: Runbook
    path: str  # relative to the checkout
    version: str  # the commit this file's content was validated at


@dataclass(frozen=True)
class SyncReport:
    version: str | None  # HEAD after the pull
    loaded: tuple[str, ...] = ()  # runbooks taken from this version
    kept: tuple[str, ...] = ()  # runbooks whose file is now invalid: the last good one stays
    removed: tuple[str, ...] = ()
    rejected: tuple[Problem, ...] = ()
    error: str | None = None  # the pull failed; what is on disk was still validated
    changed: bool = False

    def summary(self) -> str:
        head = f"runbooks at {self.version[:12]}" if self.version else "runbooks"
        text = f"{head}: {len(self.loaded)} loaded"
        if self.kept:
            text += f", {len(self.kept)} kept at their last good version"
        if self.rejected:
            files = sorted({p.source for p in self.rejected})
            text += f", rejected: {', '.join(files)}"
        return text + (f" (pull failed: {self.error})" if self.error else "")


@dataclass
class RunbookSync:
    """One configured runbook directory (a git checkout; a plain folder works, versioned by a
    digest of its files)."""

    directory: Path
    environ: Mapping[str, str]
    git: str = "git"
    timeout_seconds: float = 60
    pull: bool = True
    _current: dict[str, SyncedRunbook] = field(default_factory=dict, init=False)

    @property
    def runbooks(self) -> dict[str, SyncedRunbook]:
        """The set in use, by runbook name."""
        return {entry.runbook.name: entry for entry in self._current.values()}

    async def sync(self) -> SyncReport:
        error: str | None = None
        is_git = (self.directory / ".git").exists()
        if is_git and self.pull:
            try:
                await self._git("pull", "--ff-only", "--quiet")
            except GitError as failure:
                # ff-only leaves the checkout as it was, so validating it again is harmless.
                error = str(failure)
                log.warning("runbook sync: git pull failed in %s: %s", self.directory, failure)
        try:
            version = (await self._git("rev-parse", "HEAD")).strip() if is_git else None
        except GitError as failure:
            return SyncReport(version=None, error=str(failure))
        files = runbook_files(self.directory)
        version = version or _content_digest(files)
        report = self._load(files, version)
        for problem in report.rejected:
            log.warning("runbook sync rejected %s", problem)
        return SyncReport(
            version=version,
            loaded=report.loaded,
            kept=report.kept,
            removed=report.removed,
            rejected=report.rejected,
            error=error,
            changed=report.changed,
        )

    async def sync_forever(
        self,
        interval_seconds: float,
        on_report: Callable[[SyncReport], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        """Sync now and every `interval_seconds` until `stop` is set (the bot's scheduler may
        call `sync()` itself instead)."""
        while not stop.is_set():
            try:
                await on_report(await self.sync())
            except Exception:
                log.exception("runbook sync failed")
            try:
                async with asyncio.timeout(interval_seconds):
                    await stop.wait()
            except TimeoutError:
                continue

    def _load(self, files: list[Path], version: str) -> SyncReport:
        previous = self._current
        current: dict[str, SyncedRunbook] = {}
        names: dict[str, str] = {}
        loaded: list[str] = []
        kept: list[str] = []
        rejected: list[Problem] = []
        for path in files:
            relative = str(path.relative_to(self.directory))
            try:
                runbook = load_file(path)
            except RunbookInvalid as invalid:
                rejected += [
                    Problem(relative, p.line, p.where, p.message) for p in invalid.problems
                ]
                old = previous.get(relative)
                if old is not None and old.runbook.name not in names:
                    current[relative] = old
                    names[old.runbook.name] = relative
                    kept.append(old.runbook.name)
                continue
            if runbook.name in names:
                message = f"runbook name {runbook.name!r} is already used by {names[runbook.name]}"
                rejected.append(Problem(relative, None, "name", message))
                continue
            unchanged = previous.get(relative)
            same = unchanged is not None and unchanged.runbook == runbook
            entry = unchanged if same and unchanged else SyncedRunbook(runbook, relative, version)
            current[relative] = entry
            names[runbook.name] = relative
            loaded.append(runbook.name)
        removed = sorted(
            {e.runbook.name for e in previous.values()} - {e.runbook.name for e in current.values()}
        )
        self._current = current
        return SyncReport(
            version=version,
            loaded=tuple(loaded),
            kept=tuple(kept),
            removed=tuple(removed),
            rejected=tuple(rejected),
            changed=current != previous,
        )

    async def _git(self, *args: str) -> str:
        output = OutputBuffer(GIT_OUTPUT_LIMIT)
        # Never wait for a password prompt nobody will answer.
        env = {**self.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        argv = (self.git, "-C", str(self.directory), *args)
        try:
            result = await run_process(
                argv, env=env, cwd=None, time_limit=self.timeout_seconds, output=output
            )
        except OSError as error:
            raise GitError(f"cannot run git: {error.strerror}") from error
        # Remote URLs may carry credentials; git's messages quote them.
        text = output.text(Redactor())
        if result.timed_out:
            raise GitError(f"git {args[0]} timed out after {self.timeout_seconds:g}s")
        if result.exit_code != 0:
            raise GitError(f"git {args[0]} exited {result.exit_code}: {text.strip()[-500:]}")
        return text


def _content_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return "dir-" + digest.hexdigest()[:12]
