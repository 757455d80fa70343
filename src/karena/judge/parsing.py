"""Reading the judge's ranking out of its reply, tolerantly but never by guessing.

The judge is told to answer with one line, ``Image 3, Image 1, Image 5, Image 2, Image 4``.
Real VLMs add markdown, prose, numbered lists, brackets, ``Image3``, reasoning blocks and the
like. The parser accepts a reply only when it contains a *chain* of exactly ``n`` labelled
mentions (``Image k``) joined by nothing but separators (commas, ``>``, arrows, "and", line
breaks, list numbering, brackets, emphasis), and those mentions are a permutation of 1..n.
Anything else (a duplicate, a missing or out-of-range image, two chains that disagree, mentions
joined by prose such as "Image 1 is worse than Image 3") is rejected with a reason, so a run is
never scored from a reply that was misread.
"""

from __future__ import annotations

import re

from karena.errors import UpstreamError

__all__ = ["UnparseableReply", "format_example", "parse_ranking"]

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_LABEL = r"(?:image|img|picture|pic|photo|video|vid|clip)"
_NUMBER = r"(\d+|" + "|".join(_NUMBER_WORDS) + r")"
_MENTION = re.compile(
    r"(?<![a-z0-9])" + _LABEL + r"\s*(?:no\.?|number|#|_|-)?\s*" + _NUMBER + r"(?![0-9])", re.I
)
# What may stand between two mentions of one chain.
_SEP_CHARS = r"[\s,;:>•·\-≻→⇒|/\[\]\(\)\{\}\*`\"'“”‘’_~]"
_GAP = re.compile(
    r"^"
    + _SEP_CHARS
    + r"*(?:\((?:best|worst|top|bottom)\))?"
    + _SEP_CHARS
    + r"*(?:(?:and|then|followed\s+by)\b)?"
    + _SEP_CHARS
    + r"*(?:-?>|=>)?"
    + _SEP_CHARS
    + r"*(?:(?:\d+|[a-z])[.)]\s+)?"
    + r"(?:rank(?:ed)?\s*\d+\s*[:.)-]\s*)?"
    + _SEP_CHARS
    + r"*$",
    re.I,
)
_THINK = re.compile(r"<think>.*?</think>", re.I | re.S)
_BARE = re.compile(r"^[\s\[\(\"'`]*(\d+)((?:\s*(?:,|>|;|\s)\s*\d+)*)[\s\]\)\"'`.]*$")


class UnparseableReply(UpstreamError):
    """A judge reply that does not state one unambiguous ranking of all the outputs."""

    code = "unparseable_reply"


def format_example(n: int, label: str = "Image") -> str:
    """The strict answer format shown to the judge, e.g. ``Image 3, Image 1, Image 2``."""
    order = [3, 1, 5, 2, 4, 7, 6, 8][:n] if n <= 8 else list(range(1, n + 1))
    order = [i for i in order if i <= n] + [i for i in range(1, n + 1) if i not in order]
    return ", ".join(f"{label} {i}" for i in order[:n])


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token.lower()]


def _chains(text: str) -> list[list[int]]:
    mentions = list(_MENTION.finditer(text))
    chains: list[list[int]] = []
    current: list[int] = []
    prev_end = -1
    for m in mentions:
        if current and not _GAP.match(text[prev_end : m.start()]):
            chains.append(current)
            current = []
        current.append(_number(m.group(1)))
        prev_end = m.end()
    if current:
        chains.append(current)
    return chains


def parse_ranking(reply: str | None, n: int) -> tuple[int, ...]:
    """The judge's order of the ``n`` shown outputs, best first, as 0-based display positions.

    Raises
    ------
    UnparseableReply
        When the reply does not contain exactly one ranking of all ``n`` outputs.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if reply is None or not reply.strip():
        raise UnparseableReply("the judge sent an empty reply")
    text = _THINK.sub(" ", reply)
    if "<think>" in text.lower():
        raise UnparseableReply("the judge's reply is an unfinished reasoning block")
    found: set[tuple[int, ...]] = set()
    problems: list[str] = []
    for chain in _chains(text):
        if len(chain) == n and sorted(chain) == list(range(1, n + 1)):
            found.add(tuple(chain))
        elif len(chain) >= 2:
            problems.append(_describe(chain, n))
    if not found:
        bare = _BARE.match(text.strip())
        if bare:
            numbers = [int(x) for x in re.findall(r"\d+", text)]
            if len(numbers) == n and sorted(numbers) == list(range(1, n + 1)):
                return tuple(x - 1 for x in numbers)
            problems.append(_describe(numbers, n))
    if len(found) == 1:
        return tuple(x - 1 for x in found.pop())
    if len(found) > 1:
        raise UnparseableReply(
            f"the reply states {len(found)} different rankings", detail=reply[:500]
        )
    reason = problems[0] if problems else f"no ranking of {n} outputs found"
    raise UnparseableReply(f"could not read a ranking: {reason}", detail=reply[:500])


def _describe(chain: list[int], n: int) -> str:
    if len(chain) > n:
        return f"{len(chain)} mentions in one list for {n} outputs: {chain}"
    dupes = sorted({x for x in chain if chain.count(x) > 1})
    if dupes:
        return f"duplicate {dupes} in {chain}"
    bad = sorted(x for x in chain if not 1 <= x <= n)
    if bad:
        return f"out-of-range {bad} in {chain} (expected 1..{n})"
    missing = sorted(set(range(1, n + 1)) - set(chain))
    return f"missing {missing} in {chain}"
