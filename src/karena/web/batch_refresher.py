"""The batch board's background refresher: one thread per app worker, never on a request.

Every ``batch_board_check_seconds`` it asks the store to refit the arenas whose batch board is
due (:meth:`karena.store.boards.Boards.refresh_due_batch_boards`: enough new votes and enough
time since the last fit). Workers over one database share the work through the store's claim:
an arena being fitted by one is skipped by the others. A vote never waits for it: the fit holds
no lock and no transaction.

With ``batch_board_fit_in_child`` (the default) the fit itself runs in a child process spawned
for it (:class:`ChildProcessFit`), so it never competes with the worker's request threads for
the interpreter lock; the votes go to it pickled and the fitted boards come back the same way.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from karena.rating.batch_board import BatchBoard
from karena.store.api import Store
from karena.store.batch_boards import FitBoards, fit_boards

__all__ = ["BatchBoardRefresher", "ChildProcessFit"]

logger = logging.getLogger("karena.batch_board")

#: How long shutdown waits for the refresher thread after it stopped the fit in progress.
STOP_TIMEOUT_SECONDS = 10.0


def _fit_in_child(conn: Connection, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Body of the child process: fit, send the boards (or the error) back, exit."""
    try:
        conn.send(("ok", fit_boards(*args, **kwargs)))
    except BaseException as exc:  # the parent re-raises it as a RuntimeError
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ChildProcessFit:
    """``fit_boards`` in a fresh spawned child process per call; :meth:`stop` ends one at once."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._current: BaseProcess | None = None
        self._stopped = False

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, BatchBoard]:
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_fit_in_child, args=(send, args, kwargs), name="karena-batch-fit", daemon=True
        )
        with self._lock:
            if self._stopped:
                raise RuntimeError("the batch board's refresher is stopping")
            process.start()
            self._current = process
        send.close()  # the child holds its end: recv() sees EOF if it dies
        try:
            status, payload = receive.recv()
        except EOFError:
            raise RuntimeError("the batch board's fit process ended without a result") from None
        finally:
            receive.close()
            process.join()
            with self._lock:
                self._current = None
        if status != "ok":
            raise RuntimeError(f"the batch board's fit failed: {payload}")
        boards: dict[str, BatchBoard] = payload
        return boards

    def stop(self) -> None:
        """End the fit in progress (its arena's claim is released by the caller) and refuse more."""
        with self._lock:
            self._stopped = True
            if self._current is not None and self._current.is_alive():
                self._current.terminate()


class BatchBoardRefresher:
    """Refit due batch boards every ``interval`` seconds in a daemon thread.

    ``in_child``: run each fit in a child process (:class:`ChildProcessFit`), else in this
    thread.
    """

    def __init__(self, store: Store, interval: float, *, in_child: bool = True) -> None:
        if not interval > 0:
            raise ValueError("the refresher needs an interval > 0")
        self.store = store
        self.interval = interval
        self.fits = 0
        self.child = ChildProcessFit() if in_child else None
        self._fit: FitBoards = self.child if self.child is not None else fit_boards
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="karena-batch-board", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread, ending a fit in progress, and wait for it."""
        self._stop.set()
        if self.child is not None:
            self.child.stop()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)

    def check_now(self) -> None:
        """One pass: refit every due arena (the thread calls this; so may a test)."""
        for done in self.store.boards.refresh_due_batch_boards(fit=self._fit):
            if done.fitted:
                self.fits += 1
                logger.info(
                    "batch board of %s: %d votes, %d boards in %.2f s",
                    done.arena_slug, done.votes, done.boards, done.seconds,
                )  # fmt: skip

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_now()
            except Exception:  # keep refreshing; the next pass retries
                if not self._stop.is_set():
                    logger.exception("batch board refresh failed")
