"""Mutation testing of the core: one score per module, sampled to fit 30 minutes on 2 cores.

Usage (from the repository root, with the ``mutation`` extra installed; docs/testing.md)::

    .venv/bin/python scripts/mutation.py                 # every module, 40 mutants each
    .venv/bin/python scripts/mutation.py --module rating/gaussian.py --sample 0   # all mutants
    .venv/bin/python scripts/mutation.py --list           # the modules and their tests

Mutants come from mutmut 2.5's operators (``mutmut.list_mutations`` / ``mutmut.mutate``: numbers,
strings, operators, comparisons, keywords, ``and``/``or``, assignments, arguments, decorators).
Each one is written into a private copy of ``src/karena`` in a temporary folder (the work tree
is never touched), and the module's own test files run against it in a forked child (the copy
first on ``sys.path``; numpy, scipy, pytest … already imported by the parent) with
``-x -q -p no:cacheprovider`` under a per-mutant timeout. A mutant is *killed* when the tests
fail or time out, and *survives* when they pass.

Tests run with ``NUMBA_DISABLE_JIT=1``: the compiled kernels (:mod:`karena.rating.kernels`)
compile the very functions of :mod:`karena.rating.gaussian` and the Thurstone update, so a
mutant there is a mutant of the compiled path too, and interpreting it spares a compile per
mutant (and numba's on-disk cache, which keys on the source file, never sees a mutant).

Sampling: ``--sample N`` draws N mutants per module with a fixed seed (``--seed``); the score
is then an estimate, printed with its 95% interval (Wilson, with the finite-population
correction). Mutants listed in ``scripts/mutation_equivalent.txt`` (module, enclosing function,
a source line and the line it becomes, known to behave the same; docs/testing.md says why for
each) are left out of the score and counted apart.

The last line is ``RESULT mutation_score=<killed/scored over all modules> ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "src" / "karena"
EQUIVALENT_FILE = Path(__file__).resolve().parent / "mutation_equivalent.txt"


@dataclass(frozen=True)
class Module:
    """A core module and the narrowest test files that pin it."""

    path: str  # relative to src/karena
    tests: tuple[str, ...]


#: The core (issue 18's modules, mapped to today's files; docs/testing.md has the map).
MODULES: tuple[Module, ...] = (
    Module(
        "rating/gaussian.py",
        (
            "tests/rating/test_gaussian.py",
            "tests/rating/test_extreme_tails.py",
            "tests/rating/test_ties.py",
        ),
    ),
    Module(
        "rating/models/thurstone.py",
        (
            "tests/rating/test_thurstone_pins.py",
            "tests/rating/test_thurstone.py",
            "tests/rating/test_ties.py",
        ),
    ),
    Module("rating/types.py", ("tests/rating/test_vote_parsing.py", "tests/rating/test_types.py")),
    Module(
        "matchmaking/base.py",
        ("tests/matchmaking/test_core_pins.py", "tests/matchmaking/test_matchmakers.py"),
    ),
    Module(
        "matchmaking/ucb.py",
        ("tests/matchmaking/test_core_pins.py", "tests/matchmaking/test_matchmakers.py"),
    ),
    Module(
        "store/votes.py",
        ("tests/store/test_vote_parsing_store.py", "tests/store/test_votes.py"),
    ),
    Module(
        "store/recording.py",
        ("tests/store/test_vote_parsing_store.py", "tests/store/test_votes.py"),
    ),
    Module(
        "store/voting.py",
        ("tests/store/test_vote_parsing_store.py", "tests/store/test_votes.py"),
    ),
    Module("judge/parsing.py", ("tests/judge/test_parsing_pins.py", "tests/judge/test_parsing.py")),
    Module(
        "judge/correction.py",
        ("tests/judge/test_correction_pins.py", "tests/judge/test_correction.py"),
    ),
)


@dataclass
class Tally:
    """What happened to one module's sampled mutants."""

    total: int  # mutants the module has
    killed: int = 0
    survived: int = 0
    equivalent: int = 0
    seconds: float = 0.0
    survivors: list[str] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return self.killed + self.survived

    @property
    def score(self) -> float:
        return self.killed / self.scored if self.scored else 1.0

    def interval(self) -> tuple[float, float]:
        """95% interval of the module's score from the sample (Wilson, finite population).

        (score, score) when every scorable mutant ran: the score is then exact.
        """
        n, big_n = self.scored, max(self.total - self.equivalent, self.scored)
        if n == 0 or n >= big_n:
            return self.score, self.score
        p, z = self.score, 1.96
        fpc = (big_n - n) / (big_n - 1)  # the variance shrinks as the sample nears the whole
        z2 = z * z * fpc
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * math.sqrt(fpc) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def load_equivalents() -> set[tuple[str, ...]]:
    """(module, function, original line, mutated line), stripped, from the equivalents file."""
    out: set[tuple[str, ...]] = set()
    if not EQUIVALENT_FILE.exists():
        return out
    lines = [ln for ln in EQUIVALENT_FILE.read_text().splitlines() if not ln.startswith("#")]
    for ln in lines:
        if not ln.strip():
            continue
        parts = tuple(part.strip() for part in ln.split(" ||| "))
        if len(parts) != 4:
            raise SystemExit(f"{EQUIVALENT_FILE.name}: need 4 fields separated by ' ||| ': {ln}")
        out.add(parts)
    return out


def mutants_of(source: str, filename: str) -> list[object]:
    """Every mutmut mutation id of a source text."""
    from mutmut import Context, list_mutations

    return list(list_mutations(Context(source=source, filename=filename)))


def enclosing_function(lines: list[str], index: int) -> str:
    """The name of the innermost ``def`` (or ``class``) that encloses line ``index``."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    for line in reversed(lines[:index]):
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if stripped.startswith(("def ", "async def ", "class ")) and depth < indent:
            return stripped.split(" ", 1)[1].split("(", 1)[0].split(":", 1)[0]
        if stripped and depth == 0 and not stripped.startswith(("#", ")", "@", "class ")):
            return "<module>"
    return "<module>"


def apply(source: str, filename: str, mutation_id: object) -> tuple[str, str, str]:
    """(mutated source, original line, mutated line) for one mutation id."""
    from mutmut import Context, mutate

    mutated, done = mutate(Context(source=source, filename=filename, mutation_id=mutation_id))
    if done != 1:
        raise RuntimeError(f"mutmut applied {done} mutations for one id")
    before = source.split("\n")
    after = mutated.split("\n")
    for a, b in zip(before, after, strict=False):
        if a != b:
            return mutated, a, b
    return mutated, "", ""


#: Third-party modules the tests import, loaded once in the parent so each forked mutant run
#: starts warm (karena itself is never imported there: each child imports the mutated copy).
PRELOAD = (
    "pytest",
    "numpy",
    "scipy.special",
    "scipy.stats",
    "scipy.integrate",
    "mpmath",
    "hypothesis",
    "sqlalchemy",
    "sqlalchemy.orm",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "PIL.Image",
    "psycopg",
)


#: Examples per property test in a mutant's run (tests that set ``max_examples`` keep theirs).
HYPOTHESIS_EXAMPLES = 30


def preload() -> None:
    """Import the heavy third-party modules once (missing ones are skipped)."""
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if any(m == "karena" or m.startswith("karena.") for m in sys.modules):
        raise SystemExit("karena was imported before the mutants ran: the copy would be shadowed")


def _hypothesis_profile() -> None:
    """Property tests: the same examples for every mutant (derandomised), fewer of them, and
    no example database (a failing example found under a mutant must not replay later)."""
    with contextlib.suppress(ImportError):
        from hypothesis import HealthCheck, settings

        settings.register_profile(
            "mutation",
            max_examples=HYPOTHESIS_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        settings.load_profile("mutation")


def _child(tests: tuple[str, ...], src_copy: Path) -> None:
    """In the forked child: the copy first on the path, pytest quiet, exit with its code."""
    import pytest

    sys.path.insert(0, str(src_copy))
    os.chdir(ROOT)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    _hypothesis_profile()
    args = ["-x", "-q", "-p", "no:cacheprovider", "--timeout=0", "-W", "ignore", *tests]
    code = int(pytest.main(args))
    os._exit(code)


def run_tests(tests: tuple[str, ...], src_copy: Path, timeout: float) -> tuple[bool, float]:
    """(tests passed, seconds): pytest in a forked child with the copied src/ first on the path.

    A child that outlives ``timeout`` is killed and counts as failing (the mutant hangs).
    """
    start = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _child(tests, src_copy)
        finally:
            os._exit(3)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status) == 0, time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                break
            time.sleep(0.02)
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): take the child down too
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False, time.perf_counter() - start


def run_module(
    module: Module,
    src_copy: Path,
    sample: int,
    seed: int,
    equivalents: set,
    verbose: bool,
    only: list[int] | None = None,
) -> Tally:
    """Run one module's sampled mutants against its tests."""
    target = src_copy / "karena" / module.path
    source = (PKG / module.path).read_text()
    ids = mutants_of(source, str(target))
    tally = Tally(total=len(ids))
    missing = [t for t in module.tests if not (ROOT / t).exists()]
    tests = tuple(t for t in module.tests if t not in missing)
    ok, base = run_tests(tests, src_copy, timeout=600)
    if not ok:
        raise SystemExit(f"{module.path}: the tests fail without any mutant: {' '.join(tests)}")
    timeout = 3.0 * base + 10.0
    chosen = list(range(len(ids)))
    if only is not None:
        chosen = sorted(i for i in only if 0 <= i < len(ids))
    elif 0 < sample < len(ids):
        chosen = sorted(random.Random(f"{seed}:{module.path}").sample(chosen, sample))
    start = time.perf_counter()
    try:
        for index in chosen:
            mutated, before, after = apply(source, str(target), ids[index])
            line = ids[index].line_number  # type: ignore[attr-defined]
            where = enclosing_function(source.split("\n"), line)
            if (module.path, where, before.strip(), after.strip()) in equivalents:
                tally.equivalent += 1
                continue
            target.write_text(mutated)
            passed, _ = run_tests(tests, src_copy, timeout)
            if passed:
                tally.survived += 1
                tally.survivors.append(
                    f"#{index} {module.path}:{line + 1} ({where}): "
                    f"{before.strip()} -> {after.strip()}"
                )
            else:
                tally.killed += 1
            if verbose:
                mark = "SURVIVED" if passed else "killed"
                print(f"  [{mark}] {module.path}:{ids[index].line_number + 1}", flush=True)  # type: ignore[attr-defined]
            done = tally.scored + tally.equivalent
            if done % 10 == 0:
                print(f"  … {done}/{len(chosen)} {module.path}", file=sys.stderr, flush=True)
    finally:
        target.write_text(source)
    tally.seconds = time.perf_counter() - start
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="a path under src/karena (repeatable)")
    parser.add_argument("--sample", type=int, default=40, help="mutants per module (0 = all)")
    parser.add_argument("--seed", type=int, default=18, help="seed of the sample")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--verbose", action="store_true", help="one line per mutant")
    parser.add_argument(
        "--ids",
        help="comma-separated mutant numbers (the #N of a survivor) to run instead of a sample",
    )
    args = parser.parse_args(argv)
    modules = MODULES
    if args.module:
        known = {m.path: m for m in MODULES}
        unknown = [m for m in args.module if m not in known]
        if unknown:
            parser.error(f"unknown module(s) {unknown}; choose from {sorted(known)}")
        modules = tuple(known[m] for m in args.module)
    if args.list:
        for m in modules:
            count = len(mutants_of((PKG / m.path).read_text(), m.path))
            print(f"{m.path:32} {count:4} mutants  tests: {' '.join(m.tests)}")
        return 0
    equivalents = load_equivalents()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C: the source copy and child are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The children inherit this environment: interpreted kernels, SQLite only (PostgreSQL would
    # triple the time of the store's tests), no bytecode written into the copy.
    os.environ["NUMBA_DISABLE_JIT"] = "1"
    os.environ.pop("KARENA_TEST_POSTGRES_URL", None)
    sys.dont_write_bytecode = True
    preload()
    killed = scored = 0
    with tempfile.TemporaryDirectory(prefix="karena-mutation-") as tmp:
        src_copy = Path(tmp) / "src"
        shutil.copytree(PKG, src_copy / "karena", ignore=shutil.ignore_patterns("__pycache__"))
        print(f"{'module':32} {'mutants':>7} {'run':>4} {'killed':>6} {'equiv':>5} score")
        for module in modules:
            only = [int(i) for i in args.ids.split(",")] if args.ids else None
            t = run_module(
                module, src_copy, args.sample, args.seed, equivalents, args.verbose, only
            )
            killed += t.killed
            scored += t.scored
            lo, hi = t.interval()
            # Chosen mutants (--ids) are no sample: their score says nothing of the module's.
            spread = f" [{100 * lo:.0f}–{100 * hi:.0f}]" if hi > lo and not only else ""
            print(
                f"{module.path:32} {t.total:7} {t.scored + t.equivalent:4} {t.killed:6} "
                f"{t.equivalent:5} {100 * t.score:5.1f}%{spread}  ({t.seconds:.0f} s)",
                flush=True,
            )
            for s in t.survivors:
                print(f"    survived {s}", flush=True)
    total = killed / scored if scored else 1.0
    print(f"RESULT mutation_score={total:.3f} killed={killed} scored={scored}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
