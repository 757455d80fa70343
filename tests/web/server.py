"""Run ``karena serve`` as a real subprocess on 127.0.0.1 for tests and the load benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

#: The servers' voter salt (``karena serve`` refuses the default); tests sign cookies with it.
TEST_VOTER_SALT = "web-tests-voter-salt-not-the-default"


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class KarenaServer:
    """``karena serve`` in a subprocess; a context manager that waits until it answers."""

    def __init__(
        self,
        *,
        database_url: str,
        data_dir: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.data_dir = data_dir
        self.workers = workers
        self.extra_env = env if env is not None else {}
        self.startup_timeout = startup_timeout
        self.log_path = data_dir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until its API answers."""
        env = {
            **os.environ,
            "KARENA_DATA_DIR": str(self.data_dir),
            "KARENA_MIN_VOTE_SECONDS": "0",
            "KARENA_RATE_LIMIT_PER_MINUTE": "0",
            "KARENA_VOTER_SALT": TEST_VOTER_SALT,
            **self.extra_env,
        }
        command = [
            sys.executable, "-m", "karena.cli.main", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers), "--database-url", self.database_url,
            "--log-level", "warning",
        ]  # fmt: skip
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/arenas", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server and its workers (SIGTERM to its process group, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> KarenaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
