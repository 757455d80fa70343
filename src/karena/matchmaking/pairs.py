"""Meeting counts n_iq behind one small interface: dense for the simulator, sparse for the server.

What the matchmakers read of the counts is little:

* the per-model totals Σ_q n_iq (the least-compared pivot),
* the total n = Σ_{i<q} n_iq (UCB's ln n),
* the pivot's row n_{p,·} (UCB's exploration term), and
* the counts of O(n·K) given pairs (the window matchmaker's pairs of adjacent models).

:class:`PairCounts` is that interface, for S arenas of n models at once (``shape`` = (S, n)).
Two implementations answer it with identical numbers:

:class:`DensePairCounts`
    An (S, n, n) matrix: what the simulator updates in place (n ≲ 100 there, S ≈ 20–50).
    Totals are summed lazily, once per value.

:class:`SparsePairCounts`
    Only the pairs that have met, for the server (one arena, up to ~10⁴ models, of which each has
    met perhaps 50–200 others). Memory is O(pairs met + n), never O(n²); totals and the total are
    computed once when it is built, so a pick never touches all pairs.

    The pairs live in a hash table laid out like CSR: each unordered pair {a, b} (a < b) of arena
    s has the key ``(s·n + a)·n + b``; a multiplicative (Fibonacci) hash of the key picks one of
    2^⌈log₂ m⌉ buckets (m = stored pairs, so about one pair per bucket), and keys and counts are
    stored grouped by bucket with a bucket-pointer array. A lookup hashes the key, reads the
    bucket's bounds and scans its (on average ≤ 1) entries: O(1) expected per pair, with a
    handful of numpy passes over the queries, whatever the table size.

    Why not sorted keys and ``np.searchsorted`` (or CSR)? A binary search over ~10⁶ keys costs
    ~20 dependent, cache-missing probes: about 70–240 ns per query at 10⁴ models and ~125
    partners each, so the window matchmaker's 3·10⁴ lookups per pick took 2–7 ms, above the whole
    2 ms budget. The hashed layout answers the same lookups in about 0.3 ms with a warm cache and
    0.9 ms with a cold one (mostly one cache miss per query). A pivot's row is
    ``lookup(p, 0..n−1)``: O(n), with no second (per-row) copy of the pairs.
"""

from __future__ import annotations

import abc
import math

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput

__all__ = ["DensePairCounts", "PairCounts", "SparsePairCounts"]

IntArray = npt.NDArray[np.int64]

#: 2^64 / φ, odd: Knuth's multiplicative (Fibonacci) hashing constant.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _readonly(a: IntArray) -> IntArray:
    v = a.view()
    v.flags.writeable = False
    return v


class PairCounts(abc.ABC):
    """Symmetric meeting counts n_iq of S arenas of n models each (the diagonal is ignored).

    Every method takes and returns arrays with one row per arena; results are int64 and must
    not be modified (some are cached).
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int]:
        """(S, n): arenas, models per arena."""

    @property
    @abc.abstractmethod
    def totals(self) -> IntArray:
        """(S, n): Σ_{q≠i} n_iq, how often each model has met anyone."""

    @property
    def total(self) -> IntArray:
        """(S,): n = Σ_{i<q} n_iq, the number of pairwise comparisons (each pair once)."""
        return np.asarray(self.totals.sum(axis=1) // 2, dtype=np.int64)

    @abc.abstractmethod
    def row(self, pivot: IntArray) -> IntArray:
        """(S, n): n_{p,q} for every q, where p = ``pivot[s]`` in arena s (0 at q = p)."""

    @abc.abstractmethod
    def lookup(self, a: IntArray, b: IntArray) -> IntArray:
        """(S, m): n_{a[s,j], b[s,j]} in arena s, for (S, m) arrays of indices in 0..n−1
        (0 where a = b)."""

    @property
    @abc.abstractmethod
    def nbytes(self) -> int:
        """Bytes held by the arrays of this value."""

    @abc.abstractmethod
    def to_dense(self) -> IntArray:
        """The (S, n, n) matrix, zero diagonal (for tests and small n only: O(S·n²))."""

    def _check_pairs(self, a: IntArray, b: IntArray) -> tuple[IntArray, IntArray]:
        s, _ = self.shape
        a64 = np.asarray(a, dtype=np.int64)
        b64 = np.asarray(b, dtype=np.int64)
        if a64.shape != b64.shape or a64.ndim != 2 or a64.shape[0] != s:
            raise InvalidInput(f"pairs must be two ({s}, m) arrays, got {a64.shape}, {b64.shape}")
        return a64, b64


class DensePairCounts(PairCounts):
    """An (S, n, n) count matrix, wrapped without copying (the simulator keeps updating it).

    Totals are summed on first use and kept: build a new value after changing the matrix.
    """

    __slots__ = ("_matrix", "_totals")

    def __init__(self, matrix: npt.ArrayLike) -> None:
        m = np.asarray(matrix, dtype=np.int64)
        if m.ndim == 2:
            m = m[None, :, :]
        if m.ndim != 3 or m.shape[1] != m.shape[2]:
            raise InvalidInput(f"pair counts must be (S, n, n) or (n, n), got {m.shape}")
        self._matrix = m
        self._totals: IntArray | None = None

    @property
    def matrix(self) -> IntArray:
        """The wrapped (S, n, n) matrix (not a copy)."""
        return self._matrix

    @property
    def shape(self) -> tuple[int, int]:
        s, n, _ = self._matrix.shape
        return int(s), int(n)

    @property
    def totals(self) -> IntArray:
        if self._totals is None:
            m = self._matrix
            totals = m.sum(axis=2) - np.diagonal(m, axis1=1, axis2=2)
            self._totals = _readonly(np.asarray(totals, dtype=np.int64))
        return self._totals

    def row(self, pivot: IntArray) -> IntArray:
        s, _ = self.shape
        rows = np.arange(s)
        out = np.array(self._matrix[rows, pivot, :], dtype=np.int64)
        out[rows, pivot] = 0
        return out

    def lookup(self, a: IntArray, b: IntArray) -> IntArray:
        a, b = self._check_pairs(a, b)
        got = self._matrix[np.arange(a.shape[0])[:, None], a, b]
        return np.asarray(np.where(a == b, 0, got), dtype=np.int64)

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes) + (0 if self._totals is None else self._totals.nbytes)

    def to_dense(self) -> IntArray:
        out = np.array(self._matrix, dtype=np.int64)
        n = self.shape[1]
        out[:, np.arange(n), np.arange(n)] = 0
        return out


class SparsePairCounts(PairCounts):
    """Only the pairs that have met, in a bucketed hash table (see the module docstring).

    Build it with :meth:`from_pairs` or :meth:`from_dense`. Immutable.
    """

    __slots__ = ("_bptr", "_counts", "_keys", "_n", "_s", "_shift", "_total", "_totals")

    def __init__(
        self,
        shape: tuple[int, int],
        keys: IntArray,
        counts: IntArray,
        bucket_ptr: IntArray,
        shift: int,
        totals: IntArray,
        total: IntArray,
    ) -> None:
        # Internal: the arrays must come from from_pairs (grouped by bucket, consistent totals).
        self._s, self._n = shape
        self._keys = _readonly(keys)
        self._counts = _readonly(counts)
        self._bptr = bucket_ptr
        self._bptr.flags.writeable = False
        self._shift = np.uint64(shift)
        self._totals = _readonly(totals)
        self._total = _readonly(total)

    @classmethod
    def from_pairs(
        cls,
        n: int,
        a: npt.ArrayLike,
        b: npt.ArrayLike,
        counts: npt.ArrayLike,
        *,
        arenas: int = 1,
        arena: npt.ArrayLike | None = None,
    ) -> SparsePairCounts:
        """Counts from parallel arrays: pair (``a[j]``, ``b[j]``) of arena ``arena[j]`` met
        ``counts[j]`` times.

        Either order of a pair may be given; repeated pairs are summed; pairs with a = b and
        zero counts are dropped. ``arena`` defaults to all zeros (one arena).

        Raises
        ------
        InvalidInput
            For indices out of range, negative counts or arrays of different lengths.
        """
        a64 = np.asarray(a, dtype=np.int64).ravel()
        b64 = np.asarray(b, dtype=np.int64).ravel()
        c64 = np.asarray(counts, dtype=np.int64).ravel()
        s64 = None if arena is None else np.asarray(arena, dtype=np.int64).ravel()
        if not (a64.shape == b64.shape == c64.shape == (a64.shape if s64 is None else s64.shape)):
            raise InvalidInput("pair arrays must have the same length")
        if n < 0 or arenas < 1:
            raise InvalidInput(f"need n >= 0 models and >= 1 arena, got {n}, {arenas}")
        if a64.size:
            if min(int(a64.min()), int(b64.min())) < 0 or max(int(a64.max()), int(b64.max())) >= n:
                raise InvalidInput(f"pair indices must lie in 0..{n - 1}")
            if s64 is not None and (int(s64.min()) < 0 or int(s64.max()) >= arenas):
                raise InvalidInput(f"arena indices must lie in 0..{arenas - 1}")
            if int(c64.min()) < 0:
                raise InvalidInput("pair counts must be >= 0")
        if (arenas * n) * max(n, 1) >= 2**62:
            raise InvalidInput(f"too many pair keys for int64: {arenas} x {n} x {n}")
        keep = (a64 != b64) & (c64 > 0)
        if not keep.all():
            a64, b64, c64 = a64[keep], b64[keep], c64[keep]
            s64 = None if s64 is None else s64[keep]
        # Both ends as flat model indices s·n + x, the smaller first.
        lo, hi = np.minimum(a64, b64), np.maximum(a64, b64)
        del a64, b64, keep
        offset = None if s64 is None else s64 * n
        if offset is not None:
            lo += offset
            hi += offset
        w = c64.astype(np.float64)  # bincount weights: exact below 2^53
        totals = np.bincount(lo, weights=w, minlength=arenas * n)
        totals += np.bincount(hi, weights=w, minlength=arenas * n)
        total = np.array([w.sum()]) if s64 is None else np.bincount(s64, w, minlength=arenas)
        del w
        keys = lo  # becomes (s·n + lo)·n + hi, in place
        keys *= n
        keys += hi
        if offset is not None:
            keys -= offset
        del hi, offset
        # One sort serves twice: h = key·φ mod 2^64 is a bijection of the key whose top bits are
        # the bucket, so sorting by h groups the buckets and puts repeated pairs side by side.
        hashed = keys.view(np.uint64) * _GOLDEN
        order = np.argsort(hashed)
        hashed, keys, c64 = hashed[order], keys[order], c64[order]
        del order
        if keys.size > 1 and bool((hashed[1:] == hashed[:-1]).any()):
            first = np.flatnonzero(np.concatenate([[True], hashed[1:] != hashed[:-1]]))
            hashed, keys, c64 = hashed[first], keys[first], np.add.reduceat(c64, first)
        bits = max(1, math.ceil(math.log2(max(int(keys.size), 1))))
        bucket = (hashed >> np.uint64(64 - bits)).view(np.int64)
        bptr = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=1 << bits), out=bptr[1:])
        return cls(
            (arenas, n),
            keys,
            c64,
            bptr,
            64 - bits,
            np.rint(totals).astype(np.int64).reshape(arenas, n),
            np.rint(total).astype(np.int64),
        )

    @classmethod
    def from_dense(cls, matrix: npt.ArrayLike) -> SparsePairCounts:
        """The nonzero upper triangle of an (S, n, n) or (n, n) symmetric matrix."""
        m = np.asarray(matrix, dtype=np.int64)
        if m.ndim == 2:
            m = m[None, :, :]
        if m.ndim != 3 or m.shape[1] != m.shape[2]:
            raise InvalidInput(f"pair counts must be (S, n, n) or (n, n), got {m.shape}")
        s, n, _ = m.shape
        arena, a, b = np.nonzero(np.triu(m, k=1))
        return cls.from_pairs(n, a, b, m[arena, a, b], arenas=s, arena=arena)

    @property
    def shape(self) -> tuple[int, int]:
        return self._s, self._n

    @property
    def totals(self) -> IntArray:
        return self._totals

    @property
    def total(self) -> IntArray:
        return self._total

    @property
    def pairs(self) -> int:
        """How many distinct pairs have met (stored entries)."""
        return int(self._keys.size)

    def row(self, pivot: IntArray) -> IntArray:
        s, n = self.shape
        p = np.asarray(pivot, dtype=np.int64).reshape(s, 1)
        q = np.broadcast_to(np.arange(n, dtype=np.int64), (s, n))
        return self.lookup(np.broadcast_to(p, (s, n)), q)

    def lookup(self, a: IntArray, b: IntArray) -> IntArray:
        a, b = self._check_pairs(a, b)
        s, n = self.shape
        base = (np.arange(s, dtype=np.int64) * n)[:, None]
        keys = (base + np.minimum(a, b)) * n + np.maximum(a, b)
        found = self._find(keys.ravel())
        found[(a == b).ravel()] = 0
        return found.reshape(a.shape)

    def _find(self, keys: IntArray) -> IntArray:
        """Count stored under each key (0 if absent): hash, then scan the bucket."""
        out = np.zeros(keys.shape, dtype=np.int64)
        if self._keys.size == 0 or keys.size == 0:
            return out
        # The top bits of key·φ (mod 2^64); shift >= 1, so the bucket fits an int64 view.
        bucket = ((keys.view(np.uint64) * _GOLDEN) >> self._shift).view(np.int64)
        pos = self._bptr[bucket]
        stop = self._bptr[bucket + 1]
        idx = np.flatnonzero(pos < stop)
        pos, stop, want = pos[idx], stop[idx], keys[idx]
        while idx.size:
            hit = self._keys[pos] == want
            out[idx[hit]] = self._counts[pos[hit]]
            pos += 1
            more = ~hit & (pos < stop)
            idx, pos, stop, want = idx[more], pos[more], stop[more], want[more]
        return out

    @property
    def nbytes(self) -> int:
        return int(
            self._keys.nbytes
            + self._counts.nbytes
            + self._bptr.nbytes
            + self._totals.nbytes
            + self._total.nbytes
        )

    def to_dense(self) -> IntArray:
        s, n = self.shape
        out = np.zeros((s, n, n), dtype=np.int64)
        if n == 0:
            return out
        row = self._keys // n
        a, b, arena = row % n, self._keys - row * n, row // n
        out[arena, a, b] = self._counts
        out[arena, b, a] = self._counts
        return out
