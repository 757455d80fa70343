"""The batch board's background refresher: one thread per app worker, never on a request.

Every ``batch_board_check_seconds`` it asks the store to refit the arenas whose batch board is
due (:meth:`karena.store.boards.Boards.refresh_due_batch_boards`: enough new votes and enough
time since the last fit). Workers over one database share the work through the store's claim:
an arena being fitted by one is skipped by the others. A vote never waits for it: the fit holds
no lock and no transaction, only this thread.
"""

from __future__ import annotations

import logging
import threading

from karena.store.api import Store

__all__ = ["BatchBoardRefresher"]

logger = logging.getLogger("karena.batch_board")

#: How long shutdown waits for a fit in progress before it leaves the (daemon) thread behind.
STOP_TIMEOUT_SECONDS = 10.0


class BatchBoardRefresher:
    """Refit due batch boards every ``interval`` seconds in a daemon thread."""

    def __init__(self, store: Store, interval: float) -> None:
        if not interval > 0:
            raise ValueError("the refresher needs an interval > 0")
        self.store = store
        self.interval = interval
        self.fits = 0
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
        """Ask the thread to stop and wait a little for a fit in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)

    def check_now(self) -> None:
        """One pass: refit every due arena (the thread calls this; so may a test)."""
        for done in self.store.boards.refresh_due_batch_boards():
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
                logger.exception("batch board refresh failed")
