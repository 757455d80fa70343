"""Read a JSON-lines vote log into :class:`Vote` values, naming the line of any bad record.

One JSON object per line, with ``"models"`` (the contestants in display order) and one outcome,
in any of these forms (all map to the vocabulary of :mod:`karena.rating.types`)::

    {"models": ["a", "b", "c", "d"], "mode": "rank", "ranks": [2, 1, 4, 3]}  # as karena export
    {"models": ["a", "b", "c", "d"], "mode": "best", "ranks": [2, 2, 1, 2]}  #   writes them:
    {"models": ["a", "b", "c", "d"], "mode": "tie", "ranks": [1, 1, 1, 1]}   #   mode is rank,
    {"models": ["a", "b", "c", "d"], "ranking": [2, 1, 4, 3]}   # 1 = best; equal = tie
    {"models": ["a", "b", "c", "d"], "winner": "c"}             # best of K (name or position)
    {"models": ["a", "b", "c", "d"], "winner": null}            # a declared tie
    {"models": ["a", "b"], "result": "win"}                     # pairwise, first model's view:
                                                                # win | loss | tie | both_bad
A record with ``"counted": false`` (an exported vote of a banned voter) is skipped, so replaying
an export gives the arena's own leaderboard. Blank lines and lines starting with ``#`` are
skipped. Other keys are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from karena.rating.replay import VoteArrays, encode_votes
from karena.rating.types import (
    PAIR_RESULTS,
    BestOfK,
    InvalidVote,
    Outcome,
    Tie,
    Vote,
    pairwise,
    parse_outcome,
    stored_outcome,
)

__all__ = ["OUTCOME_KEYS", "parse_record", "read_vote_arrays", "read_vote_log"]

#: The keys that carry a record's outcome; a record has exactly one of them.
OUTCOME_KEYS = ("mode", "ranking", "winner", "result")


def _model_id(value: Any, what: str) -> Hashable:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidVote(f"{what} must be a string or an integer, got {value!r}")
    return value


def _winner_outcome(value: Any, models: tuple[Hashable, ...]) -> Outcome:
    if value is None:
        return Tie(len(models))
    if isinstance(value, int) and not isinstance(value, bool) and value not in models:
        return BestOfK(len(models), value)
    if value in models:
        return BestOfK(len(models), models.index(value))
    raise InvalidVote(f'"winner" {value!r} is neither one of the models nor a position')


def parse_record(record: Any) -> Vote | None:
    """One decoded JSON object as a validated :class:`Vote`; None for an uncounted vote."""
    if not isinstance(record, dict):
        raise InvalidVote(f"a vote must be a JSON object, got {type(record).__name__}")
    models_raw = record.get("models")
    if not isinstance(models_raw, list):
        raise InvalidVote('a vote needs "models": a list of model names')
    models = tuple(_model_id(m, "a model name") for m in models_raw)
    present = [key for key in OUTCOME_KEYS if key in record]
    if len(present) != 1:
        raise InvalidVote('a vote needs exactly one of "mode", "ranking", "winner" or "result"')
    if record.get("counted", True) is False:
        return None
    key = present[0]
    value = record[key]
    outcome: Outcome
    if key == "mode":
        ranks = record.get("ranks")
        if not isinstance(ranks, list) or len(ranks) != len(models):
            raise InvalidVote('"mode" needs "ranks": one rank per model (as karena export writes)')
        outcome = stored_outcome(value, ranks)
    elif key == "ranking":
        if not isinstance(value, list):
            raise InvalidVote('"ranking" must be a list of ranks (1 = best)')
        outcome = parse_outcome("rank", k=len(value), ranks=value)
    elif key == "winner":
        outcome = _winner_outcome(value, models)
    else:
        if value not in PAIR_RESULTS:
            choices = ", ".join(PAIR_RESULTS)
            raise InvalidVote(f'"result" must be one of {choices}, got {value!r}')
        outcome = pairwise(value)
    return Vote(models, outcome)


def read_vote_log(lines: Iterable[str]) -> Iterator[Vote]:
    """Yield the counted votes of a JSON-lines log; an error names its 1-based line number.

    ``lines`` split at ``\n`` only (a file object, or ``text.split("\n")``): ``str.splitlines``
    would also split inside JSON strings at U+2028, U+0085 and other separators.
    """
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidVote(f"line {number}: not valid JSON ({exc.msg})") from None
        try:
            vote = parse_record(record)
        except InvalidVote as exc:
            raise InvalidVote(f"line {number}: {exc.message}") from None
        if vote is not None:
            yield vote


def read_vote_arrays(data: bytes) -> VoteArrays:
    """A whole JSON-lines log (UTF-8 bytes) as kernel arrays, the same as
    ``encode_votes(read_vote_log(...))``.

    The compiled scanner (:mod:`karena.rating.vote_scan`) reads the common shapes of a log at
    well under a microsecond a vote; for anything it does not handle, the reference reader
    runs and accepts the file or raises its line-numbered :class:`InvalidVote`.
    """
    from karena.rating.vote_scan import scan

    scanned = scan(data)
    if not isinstance(scanned, int):
        models, ranks, ids = scanned
        return VoteArrays(models=models, ranks=ranks, ids=ids)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidVote(f"the vote log is not UTF-8 text ({exc.reason})") from None
    return encode_votes(read_vote_log(text.split("\n")))
