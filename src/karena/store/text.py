"""Checks for the names and texts users give the store (slugs, model names, prompts).

``clean_*`` validate what is about to be stored (InvalidInput); ``*_key`` make what a caller
looks something up by fit for a query (NotFound: what cannot be a valid key names nothing).
"""

from __future__ import annotations

import re
import unicodedata

from karena.errors import InvalidInput, NotFound

__all__ = [
    "MAX_PROMPT_CHARS",
    "clean_name",
    "clean_prompt",
    "clean_slug",
    "text_key",
    "token_key",
]

MAX_PROMPT_CHARS = 4000
MAX_NAME_CHARS = 200
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Bidirectional overrides and isolates let a name display as something it is not.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def clean_slug(slug: object) -> str:
    """An arena slug: lower-case letters, digits, ``-`` and ``_``, at most 64 characters."""
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise InvalidInput(
            f"arena slug must match {_SLUG.pattern}, got {str(slug)[:80]!r}",
        )
    return slug


def clean_name(name: object, what: str = "name", max_chars: int = MAX_NAME_CHARS) -> str:
    """NFC-normalised, stripped, non-empty, no control or bidi-override characters."""
    if not isinstance(name, str):
        raise InvalidInput(f"{what} must be a string")
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > max_chars:
        raise InvalidInput(f"{what} is {len(text)} characters; the limit is {max_chars}")
    for ch in text:
        if unicodedata.category(ch) == "Cc" or ch in _BIDI:
            raise InvalidInput(f"{what} contains a control character U+{ord(ch):04X}")
    return text


def clean_prompt(text: object) -> str:
    """A prompt: non-blank, at most MAX_PROMPT_CHARS, no control characters but tab and newline."""
    if not isinstance(text, str):
        raise InvalidInput("prompt must be a string")
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput("prompt must not be empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"prompt is {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    for ch in text:
        if (unicodedata.category(ch) == "Cc" and ch not in "\t\n") or ch in _BIDI:
            raise InvalidInput(f"prompt contains a control character U+{ord(ch):04X}")
    return text


def token_key(token: object) -> str:
    """A battle token fit for a query, or NotFound (no NUL, no giant strings reach the database)."""
    text = str(token)
    if not 1 <= len(text) <= 64 or any(
        not (c.isascii() and (c.isalnum() or c in "-_")) for c in text
    ):
        raise NotFound("unknown battle")
    return text


def text_key(value: object, what: str) -> str:
    """A name or key fit for an equality lookup, or NotFound."""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text or len(text) > 500 or "\x00" in text:
        raise NotFound(f"no {what} {text[:80]!r}")
    return text
