"""The pure core must not pull in storage, web, HTTP or CLI libraries."""

import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "fastapi", "httpx", "typer", "starlette", "uvicorn")


def test_pure_core_imports_no_io_libraries() -> None:
    code = (
        "import sys\n"
        "import karena.rating, karena.matchmaking, karena.sim\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"pure core imported: {out.stdout.strip()}"
