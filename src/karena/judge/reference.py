"""The reference set: instances with K existing outputs, their human ranking, and the board.

Two sources build it:

* :func:`load_ksort_folder`: a K-Sort Eval dataset folder (one sub-folder per instance with
  ``result.json`` holding ``prompt``, ``img_rank``/``video_rank`` and ``models_name``, plus
  ``0.jpg`` … ``3.jpg`` or ``.mp4``) and a leaderboard JSON;
* :func:`load_from_store` in :mod:`karena.judge.store_source`: an arena's voted battles.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from karena.errors import InvalidInput, NotFound
from karena.judge.correction import spearman
from karena.rating.types import Rating

__all__ = [
    "DEFAULT_MIN_AGREEMENT",
    "Instance",
    "ReferenceSet",
    "agreement_with_board",
    "load_ksort_folder",
    "load_leaderboard",
    "resolve_model_name",
]

#: Keep an instance only when Spearman(human ranking, leaderboard order) exceeds this.
DEFAULT_MIN_AGREEMENT = 0.75

_MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".mp4", ".webm")
_SCORE = re.compile(r"\(\s*([-+]?\d+(?:\.\d+)?)\s*/\s*([-+]?\d+(?:\.\d+)?)\s*\)")
#: Names the released K-Sort Eval folders spell differently from their leaderboard files.
KNOWN_ALIASES = {
    "lcm": "LCM-v1.5",
    "dreamshaper-xl-turbo": "Dreamshaper-xl",
    "sora": "Sora (official samples)",
    "sora-release": "Sora (release)",
    "pika-v1": "Pika-v1.0",
}


@dataclass(frozen=True, slots=True)
class Instance:
    """One reference battle: prompt, K output files, their models, human ranks (1 = best)."""

    id: str
    prompt: str
    models: tuple[str, ...]
    human_ranks: tuple[float, ...]
    media: tuple[Path, ...]

    @property
    def k(self) -> int:
        return len(self.models)


@dataclass(frozen=True)
class ReferenceSet:
    """The instances, the fixed board ratings, and the modality (``image`` or ``video``)."""

    instances: tuple[Instance, ...]
    board: Mapping[str, Rating]
    modality: str
    source: str

    def ratings(self, instance: Instance) -> tuple[Rating, ...]:
        """The fixed ratings of an instance's models, in instance order."""
        return tuple(self.board[m] for m in instance.models)

    def fingerprint(self) -> str:
        """A hash of everything that decides the loop's course; a resumed run must match it."""
        h = hashlib.sha256()
        for inst in self.instances:
            h.update(json.dumps([inst.id, inst.prompt, inst.models, inst.human_ranks]).encode())
        for name in sorted(self.board):
            r = self.board[name]
            h.update(json.dumps([name, r.mu, r.sigma]).encode())
        return h.hexdigest()[:16]


def agreement_with_board(human_ranks: Sequence[float], ratings: Sequence[Rating]) -> float:
    """Spearman ρ between a human ranking (1 = best) and the board's order (higher μ = better)."""
    return spearman(list(human_ranks), [-r.mu for r in ratings])


def _parse_entry(entry: object, where: str) -> tuple[str, Rating]:
    if not isinstance(entry, Mapping):
        raise InvalidInput(f"{where}: each leaderboard entry must be an object")
    name = entry.get("name", entry.get("model", entry.get("🤖 Model")))
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}: a leaderboard entry has no model name")
    if "mu" in entry and "sigma" in entry:
        mu, sigma = entry["mu"], entry["sigma"]
    else:
        score = next((v for k, v in entry.items() if "μ/σ" in str(k) or "mu/sigma" in str(k)), None)
        m = _SCORE.search(str(score)) if score is not None else None
        if m is None:
            raise InvalidInput(
                f"{where}: entry {name!r} has neither mu/sigma nor a 'S (μ/σ)' score"
            )
        mu, sigma = m.group(1), m.group(2)
    try:
        return name, Rating(float(mu), float(sigma))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: entry {name!r} has a bad mu/sigma") from exc


def load_leaderboard(path: Path) -> dict[str, Rating]:
    """Read board ratings from JSON: K-Sort Eval's ``sorted_score_list`` (``"S (μ/σ)"``
    strings), a list of ``{"name", "mu", "sigma"}``, ``{"models": [...]}`` or
    ``{name: {mu, sigma}}``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotFound(f"cannot read leaderboard {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"leaderboard {path} is not valid JSON: {exc.msg}") from exc
    entries: object
    if isinstance(data, Mapping) and "sorted_score_list" in data:
        entries = data["sorted_score_list"]
    elif isinstance(data, Mapping) and "models" in data:
        entries = data["models"]
    elif isinstance(data, Mapping):
        entries = [dict(v, name=k) if isinstance(v, Mapping) else v for k, v in data.items()]
    else:
        entries = data
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"leaderboard {path} lists no models")
    board = dict(_parse_entry(e, str(path)) for e in entries)
    return board


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_model_name(raw: str, board: Mapping[str, Rating]) -> str | None:
    """Match a folder's model name (e.g. ``"model_FLUX.1-dev"``) to a board name, or None."""
    if raw in board:
        return raw
    candidates = [raw]
    if "_" in raw:
        candidates += [raw.split("_", 1)[1], raw.split("_")[1]]
    by_norm = {_norm(n): n for n in board}
    for cand in candidates:
        if cand in board:
            return cand
        alias = KNOWN_ALIASES.get(cand.lower())
        if alias is not None and alias in board:
            return alias
        if _norm(cand) in by_norm:
            return by_norm[_norm(cand)]
    return None


def _first_text(value: object) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) and value.strip() else None


def _load_instance(folder: Path, board: Mapping[str, Rating]) -> Instance:
    try:
        data = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{folder.name}: unreadable result.json ({exc})") from exc
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{folder.name}: result.json must hold an object")
    prompt = _first_text(data.get("prompt"))
    if prompt is None:
        raise InvalidInput(f"{folder.name}: result.json has no prompt")
    ranks = data.get("img_rank", data.get("video_rank", data.get("rank")))
    names = data.get("models_name", data.get("models"))
    if not isinstance(ranks, list) or not isinstance(names, list) or len(ranks) != len(names):
        raise InvalidInput(f"{folder.name}: needs equally long img_rank/video_rank and models_name")
    if len(names) < 2 or not all(
        isinstance(r, int | float) and not isinstance(r, bool) for r in ranks
    ):
        raise InvalidInput(f"{folder.name}: ranks must be numbers for at least two models")
    models = []
    for raw in names:
        resolved = resolve_model_name(str(raw), board)
        if resolved is None:
            raise InvalidInput(f"{folder.name}: model {raw!r} is not on the leaderboard")
        models.append(resolved)
    if len(set(models)) != len(models):
        raise InvalidInput(f"{folder.name}: a model appears twice")
    media = []
    for i in range(len(models)):
        found = [folder / f"{i}{s}" for s in _MEDIA_SUFFIXES if (folder / f"{i}{s}").is_file()]
        if not found:
            raise InvalidInput(f"{folder.name}: output file {i}.jpg (or .png/.mp4/...) is missing")
        media.append(found[0])
    return Instance(
        folder.name, prompt, tuple(models), tuple(float(r) for r in ranks), tuple(media)
    )


def _default_leaderboard(root: Path, modality: str) -> Path | None:
    meta = "Image_meta" if modality == "image" else "Video_meta"
    candidates = [
        root / meta / f"Arena-Leaderboard-{modality.capitalize()}.json",
        root / "leaderboard.json",
        root.parent / meta / f"Arena-Leaderboard-{modality.capitalize()}.json",
    ]
    return next((p for p in candidates if p.is_file()), None)


def load_ksort_folder(
    root: Path,
    *,
    leaderboard: Path | None = None,
    modality: str = "image",
    min_agreement: float | None = None,
    skip_bad: bool = False,
) -> tuple[ReferenceSet, list[str]]:
    """Load a K-Sort Eval dataset folder; returns the set and the problems skipped (if allowed).

    ``root`` may be the dataset root (with ``Image/`` or ``Video/``) or the instances' folder.
    ``min_agreement`` drops instances whose human ranking disagrees with the board (the released
    set is already filtered at 0.75, so the default keeps everything).
    """
    if not root.is_dir():
        raise NotFound(f"reference folder {root} does not exist")
    sub = root / ("Image" if modality == "image" else "Video")
    folder = sub if sub.is_dir() else root
    lb_path = leaderboard if leaderboard is not None else _default_leaderboard(root, modality)
    if lb_path is None:
        raise InvalidInput(f"no leaderboard JSON found under {root}; pass --leaderboard")
    board = load_leaderboard(lb_path)
    dirs = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "result.json").is_file())
    if not dirs:
        raise InvalidInput(f"{folder} holds no instance folders with a result.json")
    instances: list[Instance] = []
    problems: list[str] = []
    for d in dirs:
        try:
            inst = _load_instance(d, board)
        except InvalidInput as exc:
            problems.append(exc.message)
            continue
        if min_agreement is not None:
            rho = agreement_with_board(inst.human_ranks, [board[m] for m in inst.models])
            if not rho > min_agreement:
                continue
        instances.append(inst)
    if problems and not skip_bad:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidInput(
            f"{len(problems)} bad instance folder(s): {shown}{more}", detail=problems
        )
    if not instances:
        raise InvalidInput(f"no usable instances in {folder}")
    return ReferenceSet(tuple(instances), board, modality, f"folder:{folder}"), problems
