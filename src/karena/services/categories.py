"""The category of a prompt a voter types: keyword rules by default, or a function you plug in.

Gallery imports and admins set a prompt's category themselves; a typed prompt gets one here,
when :class:`~karena.services.live.LiveGenerators` stores it, so the per-category batch boards
(docs/ratings.md, "Category boards") cover typed prompts too.

* **Keyword rules** (the default): a table ``{category: [keyword, ...]}``, tried in its order;
  the prompt takes the first category with a keyword among its words (lower-cased; a keyword
  also matches its plural with ``s``/``es``; a keyword of several words matches them in a row).
  No match: no category. :data:`DEFAULT_RULES` is the built-in table;
  ``KARENA_PROMPT_CATEGORY_RULES`` replaces it (JSON; ``{}`` turns the rules off).
* **A function**: ``KARENA_PROMPT_CLASSIFIER=package.module:attr`` names a callable
  ``text -> str | None`` (e.g. a zero-shot model); it replaces the rules. What it returns is
  trimmed to 64 characters; None or ``""`` means no category.

A classifier never costs a battle: one that raises or returns something unusable is logged and
the prompt is stored without a category.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from karena.errors import ConfigError, InvalidInput
from karena.settings import Settings
from karena.store.text import clean_name

__all__ = ["DEFAULT_RULES", "KeywordRules", "classifier_from_settings", "safe_category"]

logger = logging.getLogger("karena.categories")

#: The built-in keyword table (docs/ratings.md lists it), tried in this order.
DEFAULT_RULES: Mapping[str, tuple[str, ...]] = {
    "text": ("text", "sign", "logo", "word", "letter", "typography", "poster", "caption",
             "label", "written", "saying"),
    "people": ("person", "people", "man", "men", "woman", "women", "child", "children", "boy",
               "girl", "portrait", "face", "selfie", "crowd", "baby"),
    "animals": ("animal", "cat", "dog", "bird", "horse", "fish", "lion", "tiger", "bear",
                "cow", "elephant", "rabbit", "fox", "wolf", "insect", "butterfly"),
    "scenes": ("landscape", "city", "street", "mountain", "forest", "beach", "sea", "ocean",
               "river", "lake", "sky", "sunset", "room", "kitchen", "building", "garden"),
    "food": ("food", "fruit", "apple", "banana", "cake", "pizza", "bread", "dish", "meal",
             "coffee", "cup"),
    "art": ("painting", "drawing", "sketch", "watercolor", "watercolour", "oil painting",
            "anime", "cartoon", "illustration", "pixel art", "in the style of"),
    "shapes": ("circle", "square", "triangle", "cube", "sphere", "shape", "star"),
}  # fmt: skip

_WORD = re.compile(r"[^\W_]+")
MAX_CATEGORY_CHARS = 64


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True, slots=True)
class KeywordRules:
    """Keyword rules: the first category (in table order) with a keyword in the prompt."""

    rules: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]

    @classmethod
    def of(cls, table: Mapping[str, Sequence[str]]) -> KeywordRules:
        """Build from ``{category: [keyword, ...]}`` (checked: names and keywords non-empty)."""
        rules = []
        for category, keywords in table.items():
            name = clean_name(category, "category", MAX_CATEGORY_CHARS)
            if isinstance(keywords, str):
                raise InvalidInput(f"the keywords of category {name!r} must be a list")
            phrases = tuple(tuple(_words(str(k))) for k in keywords)
            if not phrases or not all(phrases):
                raise InvalidInput(f"category {name!r} needs non-empty keywords")
            rules.append((name, phrases))
        return cls(tuple(rules))

    def __call__(self, text: str) -> str | None:
        words = _words(text)
        forms = [{w, w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w}
                 for w in words]  # fmt: skip
        for category, phrases in self.rules:
            for phrase in phrases:
                n = len(phrase)
                for i in range(len(words) - n + 1):
                    if all(phrase[j] in forms[i + j] for j in range(n)):
                        return category
        return None


def _load(spec: str) -> Callable[[str], object]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(
            f"KARENA_PROMPT_CLASSIFIER must look like 'package.module:function', got {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"KARENA_PROMPT_CLASSIFIER: cannot import {module_name!r}: {exc}"
        ) from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"KARENA_PROMPT_CLASSIFIER: {spec!r} is not a callable")
    return fn  # type: ignore[no-any-return]


def classifier_from_settings(settings: Settings) -> Callable[[str], object]:
    """The classifier the settings name: the plugged function, else the keyword rules.

    Raises ConfigError for a classifier that cannot be imported or a bad rule table.
    """
    if settings.prompt_classifier:
        return _load(settings.prompt_classifier)
    table = settings.prompt_category_rules
    try:
        return KeywordRules.of(DEFAULT_RULES if table is None else table)
    except InvalidInput as exc:
        raise ConfigError(f"KARENA_PROMPT_CATEGORY_RULES: {exc.message}") from None


def safe_category(classifier: Callable[[str], object], text: str) -> str:
    """The classifier's category for ``text``, cleaned; ``""`` when it has none or fails."""
    try:
        found = classifier(text)
    except Exception:
        logger.exception("prompt classifier failed; the prompt is stored without a category")
        return ""
    if found is None or found == "":
        return ""
    if not isinstance(found, str):
        logger.warning("prompt classifier returned %s, not a string", type(found).__name__)
        return ""
    try:
        return clean_name(found[:MAX_CATEGORY_CHARS], "category", MAX_CATEGORY_CHARS)
    except InvalidInput as exc:
        logger.warning("prompt classifier returned an unusable category: %s", exc.message)
        return ""
