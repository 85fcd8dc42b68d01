"""Start one program from an argv list, capped output, and its whole process group killed on
timeout.

The program runs in a new session (`start_new_session=True`), so it leads its own process
group: on timeout or cancellation `os.killpg` reaches its children too (a `kubectl` plugin, a
`sleep` a script left behind), which killing the one pid would leave running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runbooks.redact import OutputBuffer

READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ProcessResult:
    pid: int
    exit_code: int | None  # None when it was killed for the timeout
    timed_out: bool


async def run_process(
    argv: tuple[str, ...],
    *,
    env: Mapping[str, str],
    cwd: Path | None,
    time_limit: float,
    output: OutputBuffer,
    kill_grace: float = 2,
) -> ProcessResult:
    """Run `argv` (never through a shell); stdout and stderr go interleaved into `output`.

    Raises OSError when the program cannot be started."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    group = process.pid  # the session leader's pid is its process group id
    try:
        async with asyncio.timeout(time_limit):
            assert process.stdout is not None
            while chunk := await process.stdout.read(READ_CHUNK):
                output.feed(chunk)
            exit_code = await process.wait()
    except TimeoutError:
        await _stop_group(process, group, kill_grace)
        return ProcessResult(pid=process.pid, exit_code=None, timed_out=True)
    except BaseException:
        # Cancelled (a shutdown) or failed while reading: nothing of the step may outlive it.
        _signal_group(group, signal.SIGKILL)
        raise
    # The program exited; whatever it left running in its group goes with it.
    _signal_group(group, signal.SIGKILL)
    return ProcessResult(pid=process.pid, exit_code=exit_code, timed_out=False)


async def _stop_group(process: asyncio.subprocess.Process, group: int, grace: float) -> None:
    """SIGTERM the group, give it `grace` seconds to clean up, then SIGKILL what is left."""
    _signal_group(group, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await process.wait()
    _signal_group(group, signal.SIGKILL)
    await process.wait()


def _signal_group(group: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal_number)
