"""Compile a rating model's own update functions with numba, on first use.

A model that has a kernel writes its per-vote update once, as plain Python over indexable
arrays, in its own module (see :mod:`karena.rating.models.thurstone`). Called directly, that
function *is* the scalar reference (on Python lists, which CPython indexes fastest);
:func:`compile_module` compiles the very same code objects with ``numba.njit(cache=True)`` for
the array callers (replay, the simulator). There is no second copy of any model's maths.

Nothing is compiled, and numba is not imported, until :func:`compile_module` is first called.

Array conventions shared by every kernel:

- ``mu``, ``sigma``: C-contiguous ``float64`` state, length n_models (or (S, n_models) for the
  many-arena form), updated **in place**.
- ``models``: ``int32`` rows of length K, one per vote; :data:`~karena.rating.types.EMPTY`
  (−1) pads votes with fewer contestants. The models of one vote are distinct.
- ``ranks``: ``int32`` rows of the same shape, :meth:`~karena.rating.types.Outcome.rank_row`:
  1 = best, equal = tie, :data:`~karena.rating.types.UNRANKED` (0) = lost to every ranked
  contestant and unordered among the other unranked ones.
- ``params``: a ``float64`` vector built by the model's ``kernel_params()``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import types
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating import gaussian

__all__ = ["check_state", "check_votes", "compile_module", "pair_order"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

#: The Gaussian helpers every kernel may call, compiled first.
_GAUSSIAN_FUNCTIONS = (
    "pdf",
    "cdf",
    "_tail_fraction",
    "_mills_lower",
    "log_cdf",
    "v_win",
    "w_win",
    "one_minus_w_win",
    "v_tie",
    "w_tie",
)


def pair_order(r_i: int, r_j: int) -> int:
    """+1 if slot i beat slot j, −1 if j beat i, 0 for a tie, 2 if the pair states nothing.

    The kernel form of :func:`karena.rating.types.comparisons`.
    """
    if r_i == r_j:
        return 2 if r_i == 0 else 0
    if r_i == 0:
        return -1
    if r_j == 0:
        return 1
    return 1 if r_i < r_j else -1


def _source_digest(*modules: types.ModuleType) -> str:
    """A short hash of the compiled sources.

    numba's on-disk cache is keyed by each function's own file, so a kernel cached before an
    edit to gaussian.py would silently keep the old maths; the digest in the qualified name
    gives every version of the sources its own cache entry.
    """
    h = hashlib.sha256()
    for module in modules:
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()[:10]


@functools.cache
def compile_module(
    module_name: str, names: tuple[str, ...], inline: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Compile ``names`` (in dependency order) from ``module_name``; returns name → dispatcher.

    Each function is cloned with its own code object into a namespace where the Gaussian
    helpers, :func:`pair_order` and the earlier names resolve to compiled dispatchers, so
    calls between kernels stay inside numba. Names in ``inline`` are inlined into their callers
    (small helpers called per byte, where a call costs more than the work).
    """
    import numba

    module = importlib.import_module(module_name)
    kernels_module = importlib.import_module(__name__)
    namespace: dict[str, Any] = {**vars(gaussian), **vars(kernels_module), **vars(module)}
    digest = _source_digest(gaussian, kernels_module, module)

    def compile_same_code(fn: Any) -> Any:
        clone = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
        clone.__qualname__ = f"{fn.__qualname__}_{digest}"
        clone.__module__ = fn.__module__
        dispatcher = numba.njit(cache=True, inline="always" if fn.__name__ in inline else "never")(
            clone
        )
        namespace[fn.__name__] = dispatcher
        return dispatcher

    for name in _GAUSSIAN_FUNCTIONS:
        compile_same_code(getattr(gaussian, name))
    compile_same_code(pair_order)
    return {name: compile_same_code(getattr(module, name)) for name in names}


def check_state(*arrays: FloatArray, ndim: int = 1) -> int:
    """Raise unless the state arrays are writeable C-contiguous float64 of one shape; n_models."""
    for arr in arrays:
        if arr.dtype != np.float64 or arr.ndim != ndim or not arr.flags.c_contiguous:
            raise InvalidInput(
                f"rating arrays must be {ndim}-D C-contiguous float64 (updated in place)"
            )
        if not arr.flags.writeable:
            raise InvalidInput("rating arrays must be writeable (they are updated in place)")
    if any(arr.shape != arrays[0].shape for arr in arrays):
        raise InvalidInput("mu and sigma must have the same shape")
    return int(arrays[0].shape[-1])


def check_votes(models: Any, ranks: Any, n_models: int) -> tuple[IntArray, IntArray]:
    """``models`` and ``ranks`` as 2-D int32 arrays of one shape, checked against n_models."""
    m = np.ascontiguousarray(models, dtype=np.int32)
    r = np.ascontiguousarray(ranks, dtype=np.int32)
    if m.ndim != 2 or m.shape != r.shape:
        raise InvalidInput("models and ranks must be 2-D arrays of one shape (votes × K)")
    if m.size and (m.max() >= n_models or m.min() < -1):
        raise InvalidInput(f"model indices must be in -1..{n_models - 1}")
    if r.size and (r.min() < 0 or r.max() > m.shape[-1]):
        raise InvalidInput(f"ranks must be in 0..{m.shape[-1]}")
    if m.shape[-1] > 1:
        # A model twice in one vote would be updated twice from one prior: reject it.
        ordered = np.sort(m, axis=-1)
        repeated = (ordered[..., 1:] == ordered[..., :-1]) & (ordered[..., 1:] >= 0)
        if repeated.any():
            raise InvalidInput("a vote names the same model twice")
    return m, r
