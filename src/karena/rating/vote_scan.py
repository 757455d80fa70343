"""A compiled scanner for JSON-lines vote logs: bytes in, kernel arrays out, in one pass.

:func:`karena.rating.vote_log.read_vote_log` is the reference reader: ``json.loads`` per line,
then :func:`~karena.rating.vote_log.parse_record`. At a million votes it spends ~13 µs a vote,
forty times the replay itself. This scanner reads the same records straight into the ``models``
and ``ranks`` matrices of :mod:`karena.rating.kernels`, interning model names in a hash table,
at well under a microsecond a vote.

It handles the common shape of a log and nothing more. Anything unusual (an escape inside a
model name, a float rank, a record split over lines, a duplicate key, an integer model id, any
malformed line) makes it report the line and give up; the caller then runs the reference
reader, which either accepts the file or raises its precise, line-numbered error. The two never
disagree on a file the scanner accepts (tests/rating/test_vote_scan.py checks this on random
logs of every record form).

The functions below are plain Python over ``uint8``/``int`` arrays, compiled by
:func:`karena.rating.kernels.compile_module`; do not call them uncompiled on real data.
"""

# numba compiles these loops: explicit comparisons and for-loops, not `in` tuples or all().
# ruff: noqa: SIM102, SIM109, SIM110

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KMAX", "scan"]

#: Largest K the scanner handles (a wider vote goes to the reference reader).
KMAX = 12

# Status codes of scan_votes.
OK, FAIL, TABLE_FULL = 0, 1, 2

# Byte values.
_SPACE, _TAB, _CR, _NL = 32, 9, 13, 10
_QUOTE, _BACKSLASH, _COMMA, _COLON = 34, 92, 44, 58
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 123, 125, 91, 93
_HASH, _MINUS = 35, 45

# Known keys, as the sum-free fingerprint of their bytes (length, first, last byte).
_KEY_OTHER, _KEY_MODELS, _KEY_RANKING, _KEY_WINNER = 0, 1, 2, 3
_KEY_RESULT, _KEY_MODE, _KEY_RANKS, _KEY_COUNTED = 4, 5, 6, 7


def _skip_ws(buf: Any, i: int, end: int) -> int:
    while i < end and (buf[i] == _SPACE or buf[i] == _TAB or buf[i] == _CR):
        i += 1
    return i


def _string_end(buf: Any, i: int, end: int) -> int:
    """Index of the closing quote of the string opening at ``i``; −1 if malformed.

    Escapes are skipped over (only model names refuse them, see ``_plain_string_end``).
    """
    i += 1
    while i < end:
        c = buf[i]
        if c == _QUOTE:
            return i
        if c == _BACKSLASH:
            i += 2
            continue
        if c < 32:
            return -1
        i += 1
    return -1


def _plain_string_end(buf: Any, i: int, end: int) -> int:
    """Like ``_string_end`` but −1 on any escape: the raw bytes must be the string itself."""
    i += 1
    while i < end:
        c = buf[i]
        if c == _QUOTE:
            return i
        if c == _BACKSLASH or c < 32:
            return -1
        i += 1
    return -1


def _bytes_equal(buf: Any, a: int, b: int, n: int) -> bool:
    for j in range(n):
        if buf[a + j] != buf[b + j]:
            return False
    return True


def _is_word(buf: Any, start: int, stop: int, words: Any, w: int) -> bool:
    """Whether ``buf[start:stop]`` is ``WORDS[w]`` (``words`` is :func:`_word_table`'s)."""
    first: int = words[w]
    n: int = words[w + 1] - first
    if stop - start != n:
        return False
    for j in range(n):
        if buf[start + j] != words[first + j]:
            return False
    return True


def _digits(buf: Any, i: int, end: int) -> int:
    start = i
    while i < end and 48 <= buf[i] <= 57:
        i += 1
    return i if i > start else -1


def _skip_scalar(buf: Any, i: int, end: int, words: Any) -> int:
    """Index past one JSON string, number, ``true``, ``false`` or ``null``; −1 otherwise.

    Numbers follow JSON's grammar exactly; ``NaN`` and ``Infinity`` (which ``json.loads``
    accepts) are left to the reference reader.
    """
    if i >= end:
        return -1
    c = buf[i]
    if c == _QUOTE:
        stop = _string_end(buf, i, end)
        return stop + 1 if stop >= 0 else -1
    if c == _MINUS or 48 <= c <= 57:
        if c == _MINUS:
            i += 1
        if i < end and buf[i] == 48:
            i += 1
        else:
            i = _digits(buf, i, end)
            if i < 0:
                return -1
        if i < end and buf[i] == 46:  # .
            i = _digits(buf, i + 1, end)
            if i < 0:
                return -1
        if i < end and (buf[i] == 101 or buf[i] == 69):  # e E
            i += 1
            if i < end and (buf[i] == 43 or buf[i] == _MINUS):
                i += 1
            i = _digits(buf, i, end)
        return i
    for w in range(7, 10):  # null, true, false
        n: int = words[w + 1] - words[w]
        if _is_word(buf, i, min(i + n, end), words, w):
            return i + n
    return -1


def _skip_value(buf: Any, i: int, end: int, words: Any) -> int:
    """Index past a scalar or a flat array of scalars; −1 for anything else (nested values)."""
    if i < end and buf[i] == _LBRACKET:
        i = _skip_ws(buf, i + 1, end)
        if i < end and buf[i] == _RBRACKET:
            return i + 1
        while True:
            i = _skip_scalar(buf, i, end, words)
            if i < 0:
                return -1
            i = _skip_ws(buf, i, end)
            if i < end and buf[i] == _COMMA:
                i = _skip_ws(buf, i + 1, end)
                continue
            if i < end and buf[i] == _RBRACKET:
                return i + 1
            return -1
    return _skip_scalar(buf, i, end, words)


def _parse_int(buf: Any, i: int, end: int, out: Any, slot: int) -> int:
    """A plain JSON integer (no fraction or exponent) into ``out[slot]``; −1 otherwise."""
    sign = 1
    if i < end and buf[i] == _MINUS:
        sign = -1
        i += 1
    start = i
    value = 0
    while i < end and 48 <= buf[i] <= 57:
        value = value * 10 + (buf[i] - 48)
        i += 1
    if i == start or i - start > 9 or (buf[start] == 48 and i - start > 1):
        return -1  # no digits, too long, or a leading zero (not JSON)
    if i < end:
        c = buf[i]
        if not (c == _SPACE or c == _TAB or c == _CR or c == _COMMA or c == _RBRACKET):
            if c != _RBRACE:
                return -1  # a fraction, an exponent or garbage: the reference decides
    out[slot] = sign * value
    return i


def _int_array(buf: Any, i: int, end: int, out: Any) -> tuple[int, int]:
    """``[int, ...]`` into ``out``: (index past ``]``, count), or (−1, 0)."""
    if i >= end or buf[i] != _LBRACKET:
        return -1, 0
    i = _skip_ws(buf, i + 1, end)
    n = 0
    if i < end and buf[i] == _RBRACKET:
        return i + 1, 0
    while True:
        if n >= len(out):
            return -1, 0
        i = _parse_int(buf, i, end, out, n)
        if i < 0:
            return -1, 0
        n += 1
        i = _skip_ws(buf, i, end)
        if i < end and buf[i] == _COMMA:
            i = _skip_ws(buf, i + 1, end)
            continue
        if i < end and buf[i] == _RBRACKET:
            return i + 1, n
        return -1, 0


def _key_id(buf: Any, start: int, stop: int, words: Any) -> int:
    for w in range(7):  # the seven known keys: WORDS[0:7]
        if _is_word(buf, start, stop, words, w):
            return w + 1
    return _KEY_OTHER


def _competition(values: Any, k: int, row: Any) -> bool:
    """Competition ranks of ``values[:k]`` into ``row``; False unless every value is in 1..k."""
    for a in range(k):
        if values[a] < 1 or values[a] > k:
            return False
    for a in range(k):
        better = 0
        for b in range(k):
            if values[b] < values[a]:
                better += 1
        row[a] = 1 + better
    return True


def _intern(
    buf: Any, start: int, stop: int, table: Any, starts: Any, stops: Any, n_names: Any
) -> int:
    """The index of the name ``buf[start:stop]``, added at the end if new; −1 if the table fills."""
    h = np.uint64(14695981039346656037)
    for j in range(start, stop):
        h = (h ^ np.uint64(buf[j])) * np.uint64(1099511628211)
    mask = np.int64(len(table) - 1)
    slot = np.int64(h & np.uint64(mask))
    length = stop - start
    while True:
        idx = table[slot]
        if idx < 0:
            if 2 * (n_names[0] + 1) > len(table) or n_names[0] >= len(starts):
                return -1
            idx = n_names[0]
            table[slot] = idx
            starts[idx], stops[idx] = start, stop
            n_names[0] += 1
            return int(idx)
        if stops[idx] - starts[idx] == length and _bytes_equal(buf, starts[idx], start, length):
            return int(idx)
        slot = (slot + np.int64(1)) & mask


def scan_votes(
    buf: Any,
    words: Any,
    models_out: Any,
    ranks_out: Any,
    table: Any,
    starts: Any,
    stops: Any,
    n_names: Any,
    widest: Any,
) -> tuple[int, int, int]:
    """Scan every line: (status, votes written, 1-based line of a failure).

    A name of a line that then fails may already be interned: a failure aborts the scan.
    """
    end = len(buf)
    i = 0
    line = 0
    n_votes = 0
    name_start = np.empty(KMAX, dtype=np.int64)
    name_stop = np.empty(KMAX, dtype=np.int64)
    ints = np.empty(KMAX, dtype=np.int64)
    row = np.empty(KMAX, dtype=np.int64)
    while i < end:
        line += 1
        i = _skip_ws(buf, i, end)
        if i >= end:
            break
        if buf[i] == _NL:
            i += 1
            continue
        if buf[i] == _HASH:
            while i < end and buf[i] != _NL:
                i += 1
            i += 1
            continue
        if buf[i] != _LBRACE:
            return FAIL, n_votes, line
        i = _skip_ws(buf, i + 1, end)
        k = -1
        outcome_keys = 0
        outcome = 0  # 1 ranking, 2 winner, 3 result, 4 mode
        n_ranks = -1
        counted = True
        winner_kind = 0  # 1 name, 2 position, 3 null
        winner_a, winner_b = 0, 0
        word_a, word_b = 0, 0
        seen = 0
        closed = False
        while i < end:
            if buf[i] == _RBRACE:
                i += 1
                closed = True
                break
            if buf[i] != _QUOTE:
                return FAIL, n_votes, line
            stop = _plain_string_end(buf, i, end)
            if stop < 0:
                return FAIL, n_votes, line  # an escaped key may spell a known one
            key = _key_id(buf, i + 1, stop, words)
            i = _skip_ws(buf, stop + 1, end)
            if i >= end or buf[i] != _COLON:
                return FAIL, n_votes, line
            i = _skip_ws(buf, i + 1, end)
            if key != _KEY_OTHER:
                if seen & (1 << key):
                    return FAIL, n_votes, line  # a duplicate key: json.loads keeps the last
                seen |= 1 << key
            if key == _KEY_MODELS:
                if i >= end or buf[i] != _LBRACKET:
                    return FAIL, n_votes, line
                i = _skip_ws(buf, i + 1, end)
                k = 0
                if i < end and buf[i] == _RBRACKET:
                    i += 1
                else:
                    while True:
                        if k >= KMAX or i >= end or buf[i] != _QUOTE:
                            return FAIL, n_votes, line
                        stop = _plain_string_end(buf, i, end)
                        if stop < 0:
                            return FAIL, n_votes, line
                        name_start[k], name_stop[k] = i + 1, stop
                        k += 1
                        i = _skip_ws(buf, stop + 1, end)
                        if i < end and buf[i] == _COMMA:
                            i = _skip_ws(buf, i + 1, end)
                            continue
                        if i < end and buf[i] == _RBRACKET:
                            i += 1
                            break
                        return FAIL, n_votes, line
            elif key == _KEY_RANKING or key == _KEY_RANKS:
                i, n_ranks = _int_array(buf, i, end, ints)
                if i < 0:
                    return FAIL, n_votes, line
                if key == _KEY_RANKING:
                    outcome, outcome_keys = 1, outcome_keys + 1
            elif key == _KEY_WINNER:
                outcome, outcome_keys = 2, outcome_keys + 1
                if i < end and buf[i] == _QUOTE:
                    stop = _plain_string_end(buf, i, end)
                    if stop < 0:
                        return FAIL, n_votes, line
                    winner_kind, winner_a, winner_b = 1, i + 1, stop
                    i = stop + 1
                elif _is_word(buf, i, min(i + 4, end), words, 7):
                    winner_kind = 3
                    i += 4
                else:
                    i = _parse_int(buf, i, end, row, 0)
                    if i < 0:
                        return FAIL, n_votes, line
                    winner_kind, winner_a = 2, row[0]
            elif key == _KEY_RESULT or key == _KEY_MODE:
                if i >= end or buf[i] != _QUOTE:
                    return FAIL, n_votes, line
                stop = _plain_string_end(buf, i, end)
                if stop < 0:
                    return FAIL, n_votes, line
                word_a, word_b = i + 1, stop
                outcome, outcome_keys = (3 if key == _KEY_RESULT else 4), outcome_keys + 1
                i = stop + 1
            elif key == _KEY_COUNTED:
                if _is_word(buf, i, min(i + 4, end), words, 8):
                    i += 4
                elif _is_word(buf, i, min(i + 5, end), words, 9):
                    counted = False
                    i += 5
                else:
                    return FAIL, n_votes, line
            else:
                i = _skip_value(buf, i, end, words)
                if i < 0:
                    return FAIL, n_votes, line
            i = _skip_ws(buf, i, end)
            if i < end and buf[i] == _COMMA:
                i = _skip_ws(buf, i + 1, end)
                if i < end and buf[i] == _RBRACE:
                    return FAIL, n_votes, line  # a trailing comma is not JSON
                continue
            if i < end and buf[i] == _RBRACE:
                continue
            return FAIL, n_votes, line
        if not closed:
            return FAIL, n_votes, line
        i = _skip_ws(buf, i, end)
        if i < end and buf[i] != _NL:
            return FAIL, n_votes, line
        i += 1
        if k < 0 or outcome_keys != 1:
            return FAIL, n_votes, line
        if not counted:
            continue
        if k < 2:
            return FAIL, n_votes, line
        # The rank row, as Outcome.rank_row() of the record's outcome.
        if outcome == 1 or (outcome == 4 and _is_word(buf, word_a, word_b, words, 10)):
            if n_ranks != k or not _competition(ints, k, row):
                return FAIL, n_votes, line
        elif outcome == 4 and _is_word(buf, word_a, word_b, words, 11):
            if n_ranks != k:
                return FAIL, n_votes, line
            ones = 0
            for a in range(k):
                row[a] = 1 if ints[a] == 1 else 0
                ones += row[a]
            if ones != 1:
                return FAIL, n_votes, line
        elif outcome == 4 and (
            _is_word(buf, word_a, word_b, words, 12) or _is_word(buf, word_a, word_b, words, 13)
        ):
            if n_ranks != k:
                return FAIL, n_votes, line
            for a in range(k):
                row[a] = 1
        elif outcome == 2:
            if winner_kind == 3:
                for a in range(k):
                    row[a] = 1
            else:
                w = -1
                if winner_kind == 1:
                    for a in range(k):
                        n = name_stop[a] - name_start[a]
                        if n == winner_b - winner_a and _bytes_equal(
                            buf, name_start[a], winner_a, n
                        ):
                            w = a
                elif 0 <= winner_a < k:
                    w = winner_a
                if w < 0:
                    return FAIL, n_votes, line
                for a in range(k):
                    row[a] = 1 if a == w else 0
        elif outcome == 3 and k == 2:
            if _is_word(buf, word_a, word_b, words, 14):
                row[0], row[1] = 1, 2
            elif _is_word(buf, word_a, word_b, words, 15):
                row[0], row[1] = 2, 1
            elif _is_word(buf, word_a, word_b, words, 12) or _is_word(
                buf, word_a, word_b, words, 16
            ):
                row[0], row[1] = 1, 1
            else:
                return FAIL, n_votes, line
        else:
            return FAIL, n_votes, line
        if n_votes >= models_out.shape[0]:
            return FAIL, n_votes, line
        for a in range(k):
            idx = _intern(buf, name_start[a], name_stop[a], table, starts, stops, n_names)
            if idx < 0:
                return TABLE_FULL, n_votes, line
            for b in range(a):
                if models_out[n_votes, b] == idx:
                    return FAIL, n_votes, line  # a model twice in one vote
            models_out[n_votes, a] = idx
            ranks_out[n_votes, a] = row[a]
        widest[0] = max(widest[0], k)
        n_votes += 1
    return OK, n_votes, 0


#: Words the scanner compares bytes against, by position (see ``_key_id`` and scan_votes).
WORDS = (
    "models",
    "ranking",
    "winner",
    "result",
    "mode",
    "ranks",
    "counted",
    "null",
    "true",
    "false",
    "rank",
    "best",
    "tie",
    "all_bad",
    "win",
    "loss",
    "both_bad",
)
_FUNCTIONS = (
    "_skip_ws",
    "_string_end",
    "_plain_string_end",
    "_bytes_equal",
    "_is_word",
    "_digits",
    "_skip_scalar",
    "_skip_value",
    "_parse_int",
    "_int_array",
    "_key_id",
    "_competition",
    "_intern",
    "scan_votes",
)


def _word_table() -> Any:
    """:data:`WORDS` as one int64 array: W+1 offsets (counted from the array's start), then
    the bytes of every word, so a compiled loop reads word ``w`` as
    ``words[words[w]:words[w + 1]]``."""
    encoded = [w.encode() for w in WORDS]
    offsets = np.cumsum([len(WORDS) + 1] + [len(b) for b in encoded])
    return np.concatenate([offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8)]).astype(
        np.int64
    )


def scan(data: bytes) -> tuple[Any, Any, tuple[str, ...]] | int:
    """``(models, ranks, ids)`` for a whole log, or the 1-based line the scanner gave up on.

    ``models`` and ``ranks`` are ``int32`` (votes × K_max), padded with −1 and 0.
    """
    from karena.rating.kernels import compile_module

    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size and int(buf.max()) >= 0x80:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return 1
    words = _word_table()
    scan_votes = compile_module(__name__, _FUNCTIONS, _FUNCTIONS[:-1])["scan_votes"]
    capacity = 1 << 12
    lines = data.count(b"\n") + 1
    while True:
        models = np.full((lines, KMAX), -1, dtype=np.int32)
        ranks = np.zeros((lines, KMAX), dtype=np.int32)
        table = np.full(capacity, -1, dtype=np.int64)
        starts = np.empty(capacity // 2, dtype=np.int64)
        stops = np.empty(capacity // 2, dtype=np.int64)
        n_names = np.zeros(1, dtype=np.int64)
        widest = np.full(1, 2, dtype=np.int64)
        status, n_votes, line = scan_votes(
            buf, words, models, ranks, table, starts, stops, n_names, widest
        )
        if status != TABLE_FULL:
            break
        capacity *= 4
    if status != OK:
        return int(line)
    width = int(widest[0])
    ids = tuple(
        data[int(starts[j]) : int(stops[j])].decode("utf-8") for j in range(int(n_names[0]))
    )
    return (
        np.ascontiguousarray(models[:n_votes, :width]),
        np.ascontiguousarray(ranks[:n_votes, :width]),
        ids,
    )
