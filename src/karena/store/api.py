"""The one storage API for the web, CLI, judge and reward layers (keyword-only arguments).

Build it with :meth:`Store.open`. The Store itself only opens and closes; its work is done by
six services, each in the module of its name:

* ``store.catalog`` (:mod:`karena.store.catalog`): arenas, models, prompts, outputs, media;
* ``store.battles`` (:mod:`karena.store.battles`): opening and reading battles;
* ``store.voting`` (:mod:`karena.store.voting`): votes, abuse controls, bans, the vote log;
* ``store.boards`` (:mod:`karena.store.boards`): leaderboards, recompute, model pages;
* ``store.voters`` (:mod:`karena.store.voters`): how reliable each voter is;
* ``store.jobs`` (:mod:`karena.store.jobs`): the generation job queue, pending battles.
* ``store.limits`` (:mod:`karena.store.limits`): limits on new battles, exports, live generation.

Every method returns frozen values from :mod:`karena.store.types` and raises
:mod:`karena.errors` exceptions on bad input.
"""

from __future__ import annotations

from karena.media.storage import MediaStore
from karena.settings import Settings
from karena.store.battles import Battles
from karena.store.boards import Boards
from karena.store.catalog import Catalog
from karena.store.context import Clock, StoreContext, utc_now
from karena.store.db import Database
from karena.store.jobs import Jobs
from karena.store.limits import Limits
from karena.store.voters import Voters
from karena.store.voting import Voting

__all__ = ["Clock", "Store", "utc_now"]


class Store:
    """Arenas, models, prompts, outputs, battles, votes and ratings on SQLite or PostgreSQL."""

    def __init__(self, settings: Settings, db: Database, media: MediaStore, clock: Clock) -> None:
        # One context per store: its services share this worker's catalog cache and vote writer.
        self._context = StoreContext(settings, db, media, clock)
        self.catalog = Catalog(self._context)
        self.battles = Battles(self._context)
        self.voting = Voting(self._context)
        self.boards = Boards(self._context)
        self.voters = Voters(self._context)
        self.jobs = Jobs(self._context)
        self.limits = Limits(self._context)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, clock: Clock | None = None) -> Store:
        """Connect to ``settings.resolved_database_url()``.

        ``migrate=True`` creates or upgrades the schema (a SQLite file and its folder too);
        ``migrate=False`` creates nothing and raises ConfigError, naming what to run, unless
        the database already holds karena's latest schema: what the commands that only read
        or edit an existing arena use, so a typo in a URL never creates a database.
        ``clock`` returns the current UTC time; tests pass a fake one to move time without sleeping.
        """
        db = Database.connect(
            settings.resolved_database_url(), timeout_s=settings.database_timeout_seconds
        )
        try:
            if migrate:
                db.migrate()
            else:
                db.require_schema()
        except BaseException:
            db.dispose()
            raise
        media = MediaStore(
            settings.resolved_media_dir(),
            max_bytes=settings.max_upload_bytes,
            image_size=settings.media_image_size,
        )
        return cls(settings, db, media, clock if clock is not None else utc_now)

    def close(self) -> None:
        """Finish queued votes, then dispose of the connection pool."""
        self._context.vote_writer.close()
        self._context.batch_fitter.close()
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def settings(self) -> Settings:
        """The settings every service reads; assignable (tests relax the abuse limits)."""
        return self._context.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._context.settings = settings

    @property
    def db(self) -> Database:
        """The database (engines and transactions)."""
        return self._context.db

    @property
    def media(self) -> MediaStore:
        """The content-addressed media store."""
        return self._context.media

    @property
    def clock(self) -> Clock:
        """The clock every service reads; assignable (tests switch to the real clock)."""
        return self._context.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._context.clock = clock
