"""The pure core must not pull in storage, web, HTTP or CLI libraries, nor numba at import."""

import json
import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "fastapi", "httpx", "typer", "starlette", "uvicorn")
RATING_MODULES = (
    "karena.rating",
    "karena.rating.kernels",
    "karena.rating.registry",
    "karena.rating.replay",
    "karena.rating.leaderboard",
    "karena.rating.models.thurstone",
    "karena.rating.models.factor_graph",
    "karena.rating.models.elo",
    "karena.rating.vote_log",
    "karena.rating.pair_counts",
    "karena.rating.bradley_terry",
    "karena.rating.bt_likelihood",
    "karena.rating.plackett_luce",
    "karena.rating.data",
)
OTHER_CORE_MODULES = ("karena.matchmaking", "karena.sim")


def test_pure_core_imports_no_io_libraries_and_leaves_numba_for_first_use() -> None:
    """No storage/web/CLI library, and no numba (slow to import) until a kernel is first called."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {RATING_MODULES!r}: importlib.import_module(name)\n"
        "numba_after_rating = 'numba' in sys.modules\n"
        f"for name in {OTHER_CORE_MODULES!r}: importlib.import_module(name)\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(json.dumps({'bad': bad, 'numba': numba_after_rating}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert loaded["bad"] == [], f"pure core imported: {loaded['bad']}"
    assert loaded["numba"] is False, "importing karena.rating.* loaded numba"
