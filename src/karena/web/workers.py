"""Several uvicorn workers, each listening on its own ``SO_REUSEPORT`` socket.

uvicorn's own multi-process mode shares one listening socket between its workers. asyncio
accepts up to 100 connections per wakeup, so with keep-alive clients whichever worker wakes first
takes nearly all connections (measured: 85 % CPU on one worker, 7 % on the other). Here every
worker binds its own socket to the same address with ``SO_REUSEPORT``; Linux then spreads new
connections over the listening sockets by a hash of each connection's addresses and ports.

The parent only supervises: it restarts a worker that dies and stops them all on SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

#: Seconds workers get to finish their requests after SIGTERM before they are SIGKILLed.
GRACEFUL_STOP_SECONDS = 15.0
#: How often the parent looks for a stop request while no worker exits.
_POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def reuseport_available() -> bool:
    """Whether the kernel balances connections over ``SO_REUSEPORT`` sockets (Linux only).

    BSD and macOS accept the option too, but deliver every connection to one socket.
    """
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound (not listening) to ``host:port`` that other such sockets may share."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR lets a restart bind while old connections linger in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM this process when its parent dies, so no worker outlives it.

    Linux sends it when the parent's thread that started us ends: the supervisor starts every
    worker from its main thread, which lives as long as the parent.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # The parent may have died before prctl took effect: then nobody would send the signal.
    if os.getppid() != parent_pid:
        sys.exit(0)


def _worker(config: uvicorn.Config, parent_pid: int) -> None:
    """Body of one worker process: bind its own socket, then run uvicorn's server on it."""
    _die_with_parent(parent_pid)
    config.configure_logging()  # a spawned process starts without the parent's logging setup
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C reaches workers too; no traceback
        try:
            # Bind and build the app before serving: a failure here would repeat on every
            # restart, so it exits with uvicorn's STARTUP_FAILURE, which makes the parent stop.
            sock = reuseport_socket(config.host, config.port)
            config.load()
        except Exception:
            logger.exception("Worker [%d] failed to start", os.getpid())
            sys.exit(STARTUP_FAILURE)
        # The socket is not listening yet: uvicorn listens only after the app's startup, so the
        # kernel sends no connection to a worker that cannot accept it yet.
        uvicorn.Server(config).run(sockets=[sock])


class ReusePortSupervisor:
    """Start ``config.workers`` workers on ``config.host:config.port``, keep them alive, stop them.

    Parameters
    ----------
    config
        uvicorn's configuration for every worker (an import string app, so that it pickles).
        A port of 0 is replaced by a free port, reserved at once; see ``port``.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        # A bound, never listening SO_REUSEPORT socket keeps the port ours while workers restart
        # (only sockets of the same user may join it) and receives no connections itself.
        self._reservation = reuseport_socket(config.host, config.port)
        config.port = self.port
        self._context = multiprocessing.get_context("spawn")  # no forked copy of our state
        self._workers: list[BaseProcess] = []
        self._stopping = False

    @property
    def port(self) -> int:
        """The port the workers listen on."""
        return int(self._reservation.getsockname()[1])

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; return 0, or STARTUP_FAILURE when a worker cannot start.

        Returns
        -------
        int
            The exit status for the command.
        """
        previous = {sig: signal.signal(sig, self._request_stop) for sig in _STOP_SIGNALS}
        logger.info("Started parent process [%d]", os.getpid())
        status = 0
        try:
            for _ in range(self.config.workers):
                self._workers.append(self._start_worker())
            while not self._stopping:
                # Wakes as soon as a worker exits, so a replacement starts at once.
                wait([w.sentinel for w in self._workers], timeout=_POLL_SECONDS)
                if not self._stopping and not self._replace_dead_workers():
                    status = STARTUP_FAILURE
                    break
        finally:
            self._stop_all()
            self.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            logger.info("Stopping parent process [%d]", os.getpid())
        return status

    def close(self) -> None:
        """Release the port reservation (``run`` does this when it returns)."""
        self._reservation.close()

    def _request_stop(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def _start_worker(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker, args=(self.config, os.getpid()), name="karena-worker"
        )
        process.start()
        return process

    def _replace_dead_workers(self) -> bool:
        """Reap and replace exited workers; False when one failed to start (it would again)."""
        for index, process in enumerate(self._workers):
            if process.is_alive():
                continue
            process.join()  # reaps it: no zombie
            if process.exitcode == STARTUP_FAILURE:
                logger.error("Worker [%d] failed to start; stopping", process.pid)
                return False
            logger.warning(
                "Worker [%d] died (exit code %s); starting another", process.pid, process.exitcode
            )
            process.close()
            self._workers[index] = self._start_worker()
        return True

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait for graceful shutdowns, SIGKILL what is left; reap all."""
        for process in self._workers:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + GRACEFUL_STOP_SECONDS
        for process in self._workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("Worker [%d] ignored SIGTERM; killing it", process.pid)
                process.kill()
                process.join()
