"""``karena serve --workers 2`` as real processes: every worker gets connections, dead workers are
replaced, SIGTERM stops them all. Sockets are attributed to workers through /proc (Linux only).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import uvicorn
from uvicorn.config import STARTUP_FAILURE

from karena.cli.serve import APP_FACTORY
from karena.web.workers import ReusePortSupervisor, reuseport_available, reuseport_socket
from tests.reliability.server import ServerProcess, group_members, is_alive, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not reuseport_available(), reason="SO_REUSEPORT balancing is Linux-only"),
]

#: Persistent connections opened at once; all on one worker has probability 2**-31.
CONNECTIONS = 32
_LISTEN, _ESTABLISHED = "0A", "01"  # TCP states as /proc/net/tcp writes them


def _socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the sockets whose local port is ``port`` and whose TCP state is ``state``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)  # header
            for row in rows:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == state:
                    inodes.add(fields[9])
    return inodes


def _sockets_per_worker(server: ServerProcess, state: str) -> dict[int, int]:
    """How many of the server port's sockets in ``state`` each worker process holds."""
    inodes = _socket_inodes(server.port, state)
    counts = {}
    for pid in server.worker_pids():
        held = 0
        for fd in os.listdir(f"/proc/{pid}/fd") if is_alive(pid) else []:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts[pid] = held
    return counts


def _wait_all_listening(server: ServerProcess, timeout: float = 120.0) -> dict[int, int]:
    """Wait until ``server.workers`` workers each hold a listening socket of their own."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listening = _sockets_per_worker(server, _LISTEN)
        if len(listening) == server.workers and all(listening.values()):
            return listening
        time.sleep(0.1)
    raise AssertionError(f"workers not all listening: {listening}\n{server.log_text()[-3000:]}")


def _answers_fresh_connections(server: ServerProcess, requests: int = 10) -> list[int]:
    """Status codes of ``requests`` GETs, each on a new connection (``Connection: close``)."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        return [
            client.get("/api/arenas", headers={"connection": "close"}).status_code
            for _ in range(requests)
        ]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One ``karena serve --workers 2`` on SQLite, shared by the tests that leave it running."""
    base = tmp_path_factory.mktemp("workers")
    with running_server(f"sqlite:///{base / 'karena.db'}", base, workers=2) as server:
        _wait_all_listening(server)
        yield server


def _get_on(sock: socket.socket) -> bytes:
    """Send one keep-alive GET on ``sock`` and return the status line of the answer."""
    sock.sendall(b"GET /api/arenas HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed before an answer"
        head += chunk
    return head.split(b"\r\n", 1)[0]


def test_connections_are_spread_over_both_workers(two_workers: ServerProcess) -> None:
    workers = two_workers.worker_pids()
    with ExitStack() as stack:
        # A burst arrives while the workers are paused, so it waits in the kernel's accept
        # queues: from one shared queue the first worker to wake would take (nearly) all.
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
            stack.callback(os.kill, pid, signal.SIGCONT)
        conns = [
            stack.enter_context(socket.create_connection(("127.0.0.1", two_workers.port), 30))
            for _ in range(CONNECTIONS)
        ]
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        assert {_get_on(conn) for conn in conns} == {b"HTTP/1.1 200 OK"}
        held = _sockets_per_worker(two_workers, _ESTABLISHED)
    assert sum(held.values()) == CONNECTIONS, held
    # The kernel's hash gives each worker about half (fewer than 4 of 32: probability ~3e-6).
    assert min(held.values()) >= 4, held


def test_a_killed_worker_is_replaced(two_workers: ServerProcess) -> None:
    before = set(two_workers.worker_pids())
    killed = two_workers.kill_worker()
    killed_at = time.monotonic()
    replacement = None
    while replacement is None and time.monotonic() - killed_at < 10:
        new = set(two_workers.worker_pids()) - before
        replacement = new.pop() if new else None
        time.sleep(0.05)
    assert replacement is not None, two_workers.log_text()[-3000:]
    assert time.monotonic() - killed_at < 5, "the replacement took too long to start"
    assert not is_alive(killed)
    # The survivor serves meanwhile; then the replacement listens too, and all answer.
    assert set(_answers_fresh_connections(two_workers)) == {200}
    assert replacement in _wait_all_listening(two_workers)
    assert set(_answers_fresh_connections(two_workers)) == {200}
    assert f"Worker [{killed}] died" in two_workers.log_text()


def test_sigterm_stops_every_worker_and_exits_0(tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path / 'karena.db'}", tmp_path, workers=2) as server:
        assert server.process is not None
        workers = server.worker_pids()
        assert len(workers) == 2
        os.kill(server.pid, signal.SIGTERM)  # the parent only: it must stop its workers itself
        assert server.process.wait(timeout=60) == 0, server.log_text()[-3000:]
        assert not [pid for pid in workers if is_alive(pid)]
        # The multiprocessing resource tracker follows once the parent's pipe to it closes.
        deadline = time.monotonic() + 10
        while group_members(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_members(server.pid) == []
        assert "Traceback" not in server.log_text()


def test_workers_do_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path / 'karena.db'}", tmp_path, workers=2) as server:
        assert server.process is not None
        workers = server.worker_pids()
        os.kill(server.pid, signal.SIGKILL)  # no chance to stop them: the kernel must tell them
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while [pid for pid in workers if is_alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if is_alive(pid)]


def test_port_0_is_resolved_and_reserved() -> None:
    config = uvicorn.Config(APP_FACTORY, factory=True, host="127.0.0.1", port=0, workers=2)
    supervisor = ReusePortSupervisor(config)
    try:
        assert supervisor.port != 0 and config.port == supervisor.port
        # Workers can bind beside the reservation; a plain socket cannot take the port.
        reuseport_socket("127.0.0.1", supervisor.port).close()
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", supervisor.port))
    finally:
        supervisor.close()


def test_a_worker_that_cannot_start_stops_the_supervisor() -> None:
    # Restarting it would fail the same way forever: the parent gives up with uvicorn's status.
    config = uvicorn.Config("karena.web.no_such_module:app", host="127.0.0.1", port=0, workers=2)
    started = time.monotonic()
    assert ReusePortSupervisor(config).run() == STARTUP_FAILURE
    assert time.monotonic() - started < 120
