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


def _loaded_after_importing(packages: tuple[str, ...], skip: tuple[str, ...] = ()) -> list[str]:
    """In a fresh interpreter: import ``packages`` and every submodule, list karena's modules."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"for name in {packages!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        f"        if not info.name.startswith({skip!r}):\n"
        "            importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('karena.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def _layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_storage_imports_no_generators_or_services() -> None:
    """store/ only stores: it runs without the generators, the services, web or CLI."""
    loaded = _loaded_after_importing(("karena.store",), skip=("karena.store.migrations.env",))
    assert "karena.store.voting" in loaded  # the walk reached the submodules
    above = sorted(
        {_layer(m) for m in loaded}
        & {"karena.generators", "karena.services", "karena.web", "karena.cli"}
    )
    assert above == [], f"importing karena.store loaded {above}"


def test_generators_import_no_storage() -> None:
    """generators/ makes and reads outputs; writing them into a store is services/' job."""
    loaded = _loaded_after_importing(("karena.generators",))
    assert "karena.generators.gallery" in loaded
    below = sorted({_layer(m) for m in loaded} & {"karena.store", "karena.services"})
    assert below == [], f"importing karena.generators loaded {below}"


def test_storage_source_names_no_layer_above_even_lazily() -> None:
    """No import statement anywhere in store/ (inside functions too) names a layer above it."""
    import ast
    from pathlib import Path

    import karena.store

    above = ("karena.generators", "karena.services", "karena.web", "karena.cli")
    offending = []
    for path in sorted(Path(karena.store.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            offending += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith(above)]
    assert offending == []
