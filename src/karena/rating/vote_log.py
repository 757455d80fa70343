"""Read a JSON-lines vote log into :class:`Vote` values, naming the line of any bad record.

One JSON object per line, with ``"models"`` (the contestants in display order) and exactly one
outcome key::

    {"models": ["a", "b", "c", "d"], "ranking": [2, 1, 4, 3]}   # 1 = best; equal = tie
    {"models": ["a", "b", "c", "d"], "winner": "c"}             # best of K (name or position)
    {"models": ["a", "b", "c", "d"], "winner": null}            # best of K, declared tie
    {"models": ["a", "b"], "result": "win"}                     # pairwise, first model's view:
                                                                # win | loss | tie | both_bad
Blank lines and lines starting with ``#`` are skipped. Other keys are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from karena.rating.types import BestOfK, InvalidVote, Outcome, PairResult, Pairwise, Ranking, Vote

__all__ = ["parse_vote", "read_vote_log"]

_OUTCOME_KEYS = ("ranking", "winner", "result")


def _model_id(value: Any, what: str) -> Hashable:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidVote(f"{what} must be a string or an integer, got {value!r}")
    return value


def parse_vote(record: Any) -> Vote:
    """One decoded JSON object as a validated :class:`Vote`."""
    if not isinstance(record, dict):
        raise InvalidVote(f"a vote must be a JSON object, got {type(record).__name__}")
    models_raw = record.get("models")
    if not isinstance(models_raw, list):
        raise InvalidVote('a vote needs "models": a list of model names')
    models = tuple(_model_id(m, "a model name") for m in models_raw)
    present = [key for key in _OUTCOME_KEYS if key in record]
    if len(present) != 1:
        raise InvalidVote('a vote needs exactly one of "ranking", "winner" or "result"')
    key = present[0]
    value = record[key]
    outcome: Outcome
    if key == "ranking":
        if not isinstance(value, list):
            raise InvalidVote('"ranking" must be a list of ranks (1 = best)')
        outcome = Ranking(tuple(value))
    elif key == "winner":
        if value is None:
            winner = None
        elif isinstance(value, int) and not isinstance(value, bool) and value not in models:
            winner = value
        elif value in models:
            winner = models.index(value)
        else:
            raise InvalidVote(f'"winner" {value!r} is neither one of the models nor a position')
        outcome = BestOfK(len(models), winner)
    else:
        try:
            outcome = Pairwise(PairResult(value))
        except ValueError:
            choices = ", ".join(r.value for r in PairResult)
            raise InvalidVote(f'"result" must be one of {choices}, got {value!r}') from None
    return Vote(models, outcome)


def read_vote_log(lines: Iterable[str]) -> Iterator[Vote]:
    """Yield the votes of a JSON-lines log; an error names its 1-based line number."""
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidVote(f"line {number}: not valid JSON ({exc.msg})") from None
        try:
            yield parse_vote(record)
        except InvalidVote as exc:
            raise InvalidVote(f"line {number}: {exc.message}") from None
