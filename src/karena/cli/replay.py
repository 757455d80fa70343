"""``karena replay``: rebuild a leaderboard from a JSON-lines vote log."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Hashable

    from karena.rating.base import OnlineRatingModel
    from karena.rating.leaderboard import LeaderboardRow
    from karena.rating.types import Rating, Vote


def build_model(name: str) -> OnlineRatingModel:
    """The registered online rating model ``name`` with its documented defaults (ConfigError)."""
    from karena.rating.registry import make_rating_model

    return make_rating_model(name)


def _read_bytes(path: Path) -> bytes:
    from karena.errors import InvalidInput, NotFound

    if str(path) == "-":
        data = sys.stdin.buffer.read()
    elif not path.is_file():
        raise NotFound(f"no vote log at {path}")
    else:
        data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason})") from None
    return data


Replayed = tuple["dict[Hashable, Rating]", "dict[Hashable, int]", int]


def _replay_fast(data: bytes, model: OnlineRatingModel) -> Replayed:
    """Ratings, votes per model and votes, through the compiled scanner and the model's kernel."""
    import numpy as np

    from karena.rating.replay import replay_encoded
    from karena.rating.vote_log import read_vote_arrays

    arrays = read_vote_arrays(data)
    played = arrays.models[arrays.models >= 0]
    counts = np.bincount(played, minlength=len(arrays.ids))
    votes = {model_id: int(counts[i]) for i, model_id in enumerate(arrays.ids)}
    return replay_encoded(arrays, model), votes, arrays.n_votes


def _replay_reference(data: bytes, model: OnlineRatingModel) -> Replayed:
    """Ratings, votes per model and votes, vote by vote in Python (with a progress bar)."""
    from karena.rating.leaderboard import count_votes
    from karena.rating.vote_log import read_vote_log

    votes = list(read_vote_log(data.decode("utf-8").split("\n")))
    return model.replay(_with_progress(votes)), count_votes(votes), len(votes)


def _with_progress(votes: list[Vote]) -> Iterable[Vote]:
    """The votes, behind a progress bar on stderr when replaying slowly in a terminal."""
    if len(votes) < 2000 or not sys.stderr.isatty():
        return votes
    from rich.console import Console
    from rich.progress import track

    return track(votes, description="Replaying", transient=True, console=Console(stderr=True))


def _print_table(rows: tuple[LeaderboardRow, ...], title: str, elo: bool) -> None:
    from rich.table import Table

    from karena.cli.common import print_table

    table = Table(title=title)
    for column in ("Rank", "Model", "Score μ−3σ", "μ", "σ", "95% interval", "Votes"):
        table.add_column(column, justify="left" if column == "Model" else "right")
    for row in rows:
        interval = "—" if elo else f"{row.ci_low:.2f} – {row.ci_high:.2f}"
        model = f"{row.model_name} [dim](provisional)[/dim]" if row.provisional else row.model_name
        table.add_row(
            str(row.rank),
            model,
            f"{row.score:.2f}",
            f"{row.mu:.2f}",
            f"{row.sigma:.3f}",
            interval,
            str(row.votes),
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    """Add the ``replay`` command."""

    @app.command()
    def replay(
        log: Annotated[
            Path,
            typer.Argument(
                help="JSON-lines vote log ('-' for stdin), e.g. what `karena export` writes: "
                'one object per line with "models" and one of "mode" (with "ranks"), '
                '"ranking", "winner" or "result".',
            ),
        ],
        model: Annotated[
            str | None,
            typer.Option(
                "--model",
                "-m",
                help="Online rating model to replay through, by its registry name "
                "(default: KARENA_RATING_MODEL, thurstone); an unknown name lists the choices.",
            ),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the leaderboard as JSON instead of a table.")
        ] = False,
        top: Annotated[
            int | None, typer.Option("--top", min=1, help="Show only the first N rows.")
        ] = None,
        provisional_sigma: Annotated[
            float | None,
            typer.Option(
                help="Flag rows with σ above this as provisional "
                "(default: KARENA_PROVISIONAL_SIGMA, 2.0).",
            ),
        ] = None,
        reference: Annotated[
            bool,
            typer.Option(
                "--reference", help="Use the pure-Python reference update, not the numba kernels."
            ),
        ] = False,
    ) -> None:
        """Replay a vote log through an online rating model.

        Prints the leaderboard it ends with.
        """
        import json

        from karena.errors import InvalidInput
        from karena.rating.leaderboard import build_leaderboard
        from karena.rating.replay import has_fast_path
        from karena.settings import Settings

        settings = Settings()
        threshold = (
            provisional_sigma if provisional_sigma is not None else settings.provisional_sigma
        )
        chosen = model if model is not None else settings.rating_model
        if not threshold > 0:
            raise InvalidInput(f"--provisional-sigma must be > 0, got {threshold}")
        rating_model = build_model(chosen)
        data = _read_bytes(log)
        if not reference and has_fast_path(rating_model):
            ratings, per_model, n_votes = _replay_fast(data, rating_model)
        else:
            ratings, per_model, n_votes = _replay_reference(data, rating_model)
        rows = build_leaderboard(ratings, per_model, provisional_sigma=threshold)
        if top is not None:
            rows = rows[:top]
        if json_output:
            payload = {
                "model": rating_model.name,
                "votes": n_votes,
                "leaderboard": [row.to_dict() for row in rows],
            }
            typer.echo(json.dumps(payload, indent=2))
            return
        title = f"{rating_model.name} leaderboard from {n_votes} votes"
        _print_table(rows, title, elo=rating_model.initial().sigma == 0.0)
