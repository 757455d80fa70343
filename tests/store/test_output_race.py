"""Two writers storing the same (model, prompt) at once: the loser gets Conflict, never a 500.

A job worker, ``karena generate`` and an admin upload may all store an output for the same pair.
The store checks for an existing row and then inserts; between the two another transaction can
commit the same pair, and the unique constraint then fails the insert. That must read as the
documented Conflict ("already has an output"), as it does when the row is seen first, not as a
raw IntegrityError (a 500 over HTTP). On SQLite writers are serialised, so only PostgreSQL can
race here; both databases must give the same answers.
"""

from __future__ import annotations

import threading

from karena.errors import Conflict
from karena.store import Store
from tests.conftest import png_bytes

ROUNDS = 12
WRITERS = 4


def test_racing_writers_of_one_output_get_conflict_or_success(store: Store) -> None:
    store.catalog.create_arena(slug="race", k=2)
    store.catalog.add_model(arena="race", name="m")
    outcomes: list[str] = []
    for r in range(ROUNDS):
        key = f"p{r}"
        store.catalog.add_prompt(arena="race", text=f"prompt {r}", key=key)
        barrier = threading.Barrier(WRITERS)

        def write(w: int, key: str = key, barrier: threading.Barrier = barrier) -> None:
            data = png_bytes((10 * w, 20, 30 + w))  # different bytes: a real clash
            barrier.wait()
            try:
                store.catalog.add_output(arena="race", model="m", prompt_key=key, data=data)
                outcomes.append("stored")
            except Conflict as exc:
                assert exc.message == f"model 'm' already has an output for prompt {key!r}"
                outcomes.append("conflict")

        threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.catalog.find_output(arena="race", model="m", prompt_key=key) is not None
    # Every writer got one of the two documented answers; one output per round was stored.
    assert len(outcomes) == ROUNDS * WRITERS
    assert outcomes.count("stored") == ROUNDS
