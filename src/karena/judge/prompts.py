"""Rule-augmented judge instructions (K-Sort Eval §3.3; METHODS §2.2 step 3).

A :class:`RuleSet` is a list of weighted criteria grouped under headings (aesthetics,
alignment). The built-in image and video sets carry the paper's weights; a user overrides them
with a JSON file (see docs/judge.md) or replaces the whole instruction with a text template.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from karena.errors import InvalidInput
from karena.judge.parsing import format_example

__all__ = [
    "IMAGE_RULES",
    "VIDEO_RULES",
    "Criterion",
    "RuleSet",
    "build_instruction",
    "load_rules",
    "rules_for",
]


@dataclass(frozen=True, slots=True)
class Criterion:
    """One weighted criterion, e.g. ("aesthetics", "photorealism", 30)."""

    group: str
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Weighted judging criteria for one modality; ``label`` names the outputs ("Image")."""

    name: str
    label: str
    criteria: tuple[Criterion, ...]
    template: str | None = None

    def groups(self) -> dict[str, float]:
        """Each group's total weight, in first-seen order."""
        totals: dict[str, float] = {}
        for c in self.criteria:
            totals[c.group] = totals.get(c.group, 0.0) + c.weight
        return totals

    def to_dict(self) -> dict[str, object]:
        """The rule set as the JSON an override file uses."""
        groups: dict[str, dict[str, float]] = {}
        for c in self.criteria:
            groups.setdefault(c.group, {})[c.name] = c.weight
        out: dict[str, object] = {"name": self.name, "label": self.label, "groups": groups}
        if self.template is not None:
            out["template"] = self.template
        return out


IMAGE_RULES = RuleSet(
    name="image",
    label="Image",
    criteria=(
        Criterion("visual aesthetics", "photorealism", 30),
        Criterion("visual aesthetics", "light and shadow", 10),
        Criterion("visual aesthetics", "absence of artifacts", 10),
        Criterion("alignment with the description", "entity matching", 30),
        Criterion("alignment with the description", "style matching", 20),
    ),
)

VIDEO_RULES = RuleSet(
    name="video",
    label="Video",
    criteria=(
        Criterion("visual aesthetics", "photorealism", 30),
        Criterion("visual aesthetics", "physical correctness", 10),
        Criterion("visual aesthetics", "absence of artifacts", 10),
        Criterion("alignment with the description", "video content matching", 20),
        Criterion("alignment with the description", "movement matching", 15),
        Criterion("alignment with the description", "inter-frame consistency", 15),
    ),
)


def rules_for(modality: str) -> RuleSet:
    """The built-in rule set of ``"image"`` or ``"video"``."""
    if modality == "image":
        return IMAGE_RULES
    if modality == "video":
        return VIDEO_RULES
    raise InvalidInput(f"no built-in rules for modality {modality!r} (use image or video)")


def _pct(x: float) -> str:
    return f"{x:g}%"


def build_instruction(rules: RuleSet, prompt: str, n: int) -> str:
    """The system instruction for ranking ``n`` outputs of ``prompt`` under ``rules``.

    A custom ``template`` may use ``{n}``, ``{prompt}``, ``{label}``, ``{criteria}`` and
    ``{example}``; the strict-format sentence is always appended so replies stay parseable.
    """
    label = rules.label
    example = format_example(n, label)
    groups = rules.groups()
    total = sum(groups.values())
    scale = 100.0 / total if total > 0 else 1.0
    head = " and ".join(f"{g} ({_pct(w * scale)})" for g, w in groups.items())
    details = []
    for g in groups:
        parts = [f"{c.name} ({_pct(c.weight * scale)})" for c in rules.criteria if c.group == g]
        details.append(f"{g[:1].upper()}{g[1:]} includes " + ", ".join(parts))
    criteria = head + ". " + "; ".join(details) + "."
    strict = (
        f" You MUST respond with only the ordered {label.lower()} names in the strict format:"
        f' "{example}". Do NOT include any explanation, line break or other text:'
        " output the ranking on a single line."
        " A ranking must always be returned; refusing is not allowed."
    )
    if rules.template is not None:
        body = rules.template.format(
            n=n, prompt=prompt, label=label, criteria=criteria, example=example
        )
        return body.rstrip() + strict
    return (
        f"You will be given {n} {label.lower()}s, named {label} 1 to {label} {n}"
        " in the order shown."
        f" Rank them from best to worst by {criteria}"
        f' The description is: "{prompt}".' + strict
    )


def load_rules(path: Path, base: RuleSet) -> RuleSet:
    """Read an override: JSON ``{"label", "groups": {group: {criterion: weight}}, "template"}``
    or a plain-text instruction template (any other extension) that keeps ``base``'s criteria.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read rules file {path}: {exc.strerror}") from exc
    if path.suffix.lower() != ".json":
        if not text.strip():
            raise InvalidInput(f"rules template {path} is empty")
        _check_template(text, path)
        return RuleSet(base.name, base.label, base.criteria, template=text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"rules file {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from exc
    if not isinstance(data, Mapping):
        raise InvalidInput(f"rules file {path} must hold a JSON object")
    groups = data.get("groups")
    criteria = base.criteria if groups is None else _criteria(groups, path)
    label = data.get("label", base.label)
    if not isinstance(label, str) or not label.strip().isalpha():
        raise InvalidInput(f"rules file {path}: label must be a single word such as 'Image'")
    template = data.get("template")
    if template is not None:
        if not isinstance(template, str):
            raise InvalidInput(f"rules file {path}: template must be a string")
        _check_template(template, path)
    name = data.get("name", path.stem)
    return RuleSet(str(name), label.strip(), criteria, template)


def _criteria(groups: object, path: Path) -> tuple[Criterion, ...]:
    if not isinstance(groups, Mapping) or not groups:
        raise InvalidInput(f"rules file {path}: groups must be a non-empty object")
    out = []
    for group, items in groups.items():
        if not isinstance(items, Mapping) or not items:
            raise InvalidInput(f"rules file {path}: group {group!r} must map criteria to weights")
        for name, weight in items.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise InvalidInput(f"rules file {path}: weight of {name!r} must be a number")
            if not math.isfinite(weight) or weight <= 0:
                raise InvalidInput(f"rules file {path}: weight of {name!r} must be > 0")
            out.append(Criterion(str(group), str(name), float(weight)))
    return tuple(out)


def _check_template(template: str, path: Path) -> None:
    try:
        template.format(n=5, prompt="p", label="Image", criteria="c", example="e")
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(
            f"rules template {path} has an unknown placeholder {exc}; use {{n}}, {{prompt}},"
            " {label}, {criteria} or {example} (double braces for literal ones)"
        ) from exc
