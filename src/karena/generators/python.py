"""A live generator around any Python callable ``prompt -> bytes | str | PIL image``."""

from __future__ import annotations

import concurrent.futures
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from karena.errors import KarenaError, UpstreamError
from karena.generators.base import GeneratedOutput

__all__ = ["PythonGenerator"]


@dataclass(frozen=True, slots=True)
class PythonGenerator:
    """Call ``fn(prompt)``; bytes are used as-is, ``str`` becomes UTF-8 text, images become PNG.

    A call that takes longer than ``timeout`` seconds is reported as an UpstreamError (the
    thread running it cannot be killed and finishes in the background).
    """

    fn: Callable[[str], Any]
    name: str = "python"
    timeout: float = 60.0

    def generate(self, prompt: str) -> GeneratedOutput:
        """Run the callable and normalise what it returns."""
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            result = pool.submit(self.fn, prompt).result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise UpstreamError(
                f"generator {self.name!r} timed out after {self.timeout:g} s"
            ) from None
        except KarenaError:
            raise
        except Exception as exc:
            raise UpstreamError(
                f"generator {self.name!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            pool.shutdown(wait=False)
        return GeneratedOutput(_to_bytes(result, self.name), {"generator": self.name})


def _to_bytes(result: object, name: str) -> bytes:
    if isinstance(result, GeneratedOutput):
        return result.data
    if isinstance(result, bytes | bytearray):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    save = getattr(result, "save", None)
    if callable(save):  # a PIL image
        buf = io.BytesIO()
        save(buf, format="PNG")
        return buf.getvalue()
    raise UpstreamError(f"generator {name!r} returned {type(result).__name__}, not bytes/str/image")
