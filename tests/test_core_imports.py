"""The pure core must not pull in storage, web, HTTP or CLI libraries, nor numba at import."""

import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "fastapi", "httpx", "typer", "starlette", "uvicorn")
CORE_MODULES = (
    "karena.rating",
    "karena.rating.fast",
    "karena.rating.replay",
    "karena.rating.leaderboard",
    "karena.rating.factor_graph",
    "karena.rating.elo",
    "karena.rating.vote_log",
    "karena.matchmaking",
    "karena.sim",
)


def imported_after(modules: tuple[str, ...], watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after importing ``modules``."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {watched!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_pure_core_imports_no_io_libraries() -> None:
    bad = imported_after(CORE_MODULES, FORBIDDEN)
    assert bad == [], f"pure core imported: {bad}"


def test_rating_core_leaves_numba_for_first_use() -> None:
    """numba (slow to import) loads only when a compiled kernel is first called."""
    assert imported_after(CORE_MODULES[:7], ("numba",)) == []
