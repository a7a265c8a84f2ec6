"""``python -m infra.local serve`` as a real process for tests: start, wait until healthy, list its
descendants, signal it, and make sure nothing of it is left behind whatever the test did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProcessId:
    """A pid plus its start time (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it."""

    pid: int
    started: int

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[1] == self.started and stat[2] != "Z"


def _stat(pid: int) -> tuple[int, int, str] | None:
    """``(ppid, start time, state)`` of ``pid``, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return int(fields[1]), int(fields[19]), fields[0]


def descendants(pid: int) -> list[ProcessId]:
    """Every live process below ``pid`` (children, grandchildren, …)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry.name))
    found: list[ProcessId] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        stat = _stat(child)
        if stat is not None:
            found.append(ProcessId(child, stat[1]))
            todo.extend(children.get(child, []))
    return found


def wait_until(condition: object, timeout: float, message: str) -> None:
    """Poll ``condition()`` until it is true; a generous bound so a broken build fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


@dataclass
class ServedStack:
    data_dir: Path
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[str] | None = None
    _seen: list[ProcessId] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"serve-{self.port}.log"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "MULTIBUZZ_DATA_DIR": str(self.data_dir), "MULTIBUZZ_PORT": str(self.port)}
        env.pop("MULTIBUZZ_DATABASE_URL", None)
        env.setdefault("MULTIBUZZ_DEMO_DATA", "false")  # these tests are about the process, not the demo traffic
        env.update(self.env_overrides)
        return env

    def start(self) -> None:
        self._log = self.log_path.open("a")
        # A session of its own, so the test can kill the whole group as `kill -9 -PGID` would.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "serve"],
            env=self.env(),
            stdout=self._log,
            stderr=self._log,
            cwd=ROOT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 90) -> httpx.Response:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                return httpx.get(f"{self.base}/api/health-lite", timeout=2)
            except httpx.TransportError:
                assert self.process.poll() is None, self.log_path.read_text()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)

    def children(self) -> list[ProcessId]:
        assert self.process is not None
        found = descendants(self.process.pid)
        self._seen.extend(p for p in found if p not in self._seen)
        return found

    def signal(self, signum: int) -> None:
        """To the server process alone (not its group): what a supervisor or `kill PID` does."""
        assert self.process is not None
        self.children()
        self.process.send_signal(signum)

    def kill_group(self) -> None:
        """``kill -9`` of the whole local stack (server and its children)."""
        assert self.process is not None
        self.children()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Kill anything of this stack still alive (a failed test must not leave processes behind)."""
        if self.process is not None and self.process.poll() is None:
            self.children()
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for proc in self._seen:
            if proc.alive():
                os.kill(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
