"""Child processes of a bench run: started in their own session, always stopped.

Every child gets PR_SET_PDEATHSIG, so even a runner killed with SIGKILL takes its gateways and
load generators with it; the normal path (and Ctrl-C) terminates them in `stop_all`.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    os.setsid()
    if sys.platform == "linux":
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Children:
    """The processes one scenario started; `stop_all` ends whichever are still running."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(
        self,
        name: str,
        args: Sequence[str],
        env: dict[str, str],
        *,
        pipes: bool = False,
        program: str = sys.executable,
    ) -> asyncio.subprocess.Process:
        """Start `program args...` (Python by default); with `pipes`, stdin/stdout are the
        control channel."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            program,
            *args,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if pipes else log,
            stderr=log,
            preexec_fn=_die_with_parent,
            limit=64 * 1024 * 1024,
        )
        log.close()
        self.procs.append(proc)
        return proc

    async def stop(self, proc: asyncio.subprocess.Process, timeout_s: float = 10.0) -> None:
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(p) for p in self.procs))
        self.procs.clear()


async def wait_http(url: str, proc: asyncio.subprocess.Process, timeout_s: float = 60) -> None:
    """Wait until `url` answers 200 (or fail if the process died)."""
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"process {proc.pid} exited with {proc.returncode}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout_s}s")
            await asyncio.sleep(0.2)


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (children inherit it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
