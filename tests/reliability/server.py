"""Run ``karena serve`` as a real subprocess on 127.0.0.1 and inject process faults into it.

The harness is shared by the reliability tests and ``benchmarks/soak.py``. It never patches
karena: it starts the real command line, finds uvicorn's workers in ``/proc``, kills them (SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: Seconds a server gets to start (imports, migrations, workers). Generous: CI has 2 busy cores.
STARTUP_SECONDS = 180.0
#: Set to 1 to start the serve command without the rest of the CLI (while another command's
#: module is broken mid-edit); the flags and the code path of ``karena serve`` are the same.
DIRECT_SERVE_ENV = "KARENA_RELIABILITY_DIRECT_SERVE"
#: The servers' voter salt (``karena serve`` refuses the default); tests sign cookies with it.
TEST_VOTER_SALT = "reliability-suite-voter-salt-not-the-default"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_proc(pid: int, name: str) -> str:
    """The text of /proc/<pid>/<name>, or '' when the process is gone."""
    try:
        return (
            Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None for a gone or zombie process."""
    stat = _read_proc(pid, "stat")
    if not stat:
        return None
    # The command name is in parentheses and may contain spaces; fields after it are fixed.
    after = stat.rsplit(")", 1)[1].split()
    if after[0] in ("Z", "X"):  # a zombie is dead for our purposes
        return None
    return after


def parent_pid(pid: int) -> int | None:
    """The parent of ``pid``, or None when it has exited."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def child_pids(pid: int) -> list[int]:
    """Live direct children of ``pid`` (scans /proc; no psutil needed)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_pid(int(entry)) == pid:
            children.append(int(entry))
    return sorted(children)


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live, non-zombie process."""
    return parent_pid(pid) is not None


@dataclass
class ServerProcess:
    """One ``karena serve`` subprocess, with its log file, that the harness can kill and restart."""

    database_url: str
    data_dir: Path
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/openapi.json"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The file that receives this start's stdout and stderr."""
        return self.data_dir / f"serve-{self.starts}.log"

    def command(self) -> list[str]:
        """The exact command line; tests print it so a failure can be reproduced by hand."""
        entry = ["-m", "karena.cli.main", "serve"]
        if os.environ.get(DIRECT_SERVE_ENV) == "1":
            entry = ["-c", "import typer; from karena.cli.serve import serve; typer.run(serve)"]
        return [
            sys.executable,
            *entry,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--database-url",
            self.database_url,
        ]

    def process_env(self) -> dict[str, str]:
        """The environment: the caller's, isolated data dir, plus the test's KARENA_* overrides."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
        env["KARENA_DATA_DIR"] = str(self.data_dir)
        env["KARENA_DATABASE_URL"] = self.database_url
        env["PYTHONUNBUFFERED"] = "1"
        env["KARENA_VOTER_SALT"] = TEST_VOTER_SALT
        env.update(self.env)
        return env

    def start(self, timeout: float = STARTUP_SECONDS) -> None:
        """Start the server and wait until every worker has finished startup."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("server already running")
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        # A new session gives the server its own process group: teardown can kill workers too.
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.process_env(),
            start_new_session=True,
        )
        log.close()
        self.wait_ready(timeout)

    def log_text(self) -> str:
        """This start's log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Poll until the app answers and every worker logged startup; else raise with the log."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"karena serve exited with {self.process.returncode}:\n{self.log_text()}"
                    )
                started = self.log_text().count("Application startup complete")
                if started >= self.workers:
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(self.base_url + self.ready_path).status_code < 500:
                            return
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"karena serve not ready after {timeout:.0f}s:\n{self.log_text()}")

    @property
    def pid(self) -> int:
        """The PID of the uvicorn master (the karena process itself)."""
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes; with one worker the master serves requests itself."""
        if self.workers == 1:
            return [self.pid]
        workers = []
        for child in child_pids(self.pid):
            cmdline = _read_proc(child, "cmdline")
            if "spawn_main" in cmdline or "multiprocessing-fork" in cmdline:
                workers.append(child)
        return workers

    def wait_workers(self, count: int, timeout: float = STARTUP_SECONDS) -> list[int]:
        """Wait until ``count`` workers are alive and the app answers again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) >= count:
                return pids
            time.sleep(0.2)
        raise RuntimeError(f"only {self.worker_pids()} workers after {timeout:.0f}s")

    def kill_worker(self) -> int:
        """SIGKILL one worker (the first found) and return its PID."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError("no worker to kill")
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def kill_all(self) -> None:
        """SIGKILL the master and every worker at once: a power cut, with no graceful shutdown."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone()

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it lingers; always leaves no process behind."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._wait_group_gone()

    def _wait_group_gone(self) -> None:
        """Kill stragglers of this server's process group (orphaned workers) and wait for them."""
        assert self.process is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            members = group_members(self.process.pid)
            if not members:
                return
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)


@contextlib.contextmanager
def running_server(
    database_url: str, data_dir: Path, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A started server that is always stopped afterwards, even when the test fails."""
    server = ServerProcess(
        database_url=database_url,
        data_dir=data_dir,
        workers=workers,
        env=dict(env) if env is not None else {},
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
