"""Build the demo arena: the demo renderers as models, the grammar's prompts, rendered outputs.

Building is idempotent: run it again and it adds only what is missing, so a second
``karena demo`` starts at once and keeps its votes. The renderers themselves and the prompt
grammar are :mod:`karena.generators.demo`; this module writes them into a store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from karena.errors import InvalidInput
from karena.generators.demo import (
    DEMO_CATEGORY,
    DEMO_ORGANIZATION,
    DEMO_RENDERERS,
    DEMO_SOURCE,
    demo_prompt_texts,
)
from karena.services.live import LiveGenerators
from karena.store.api import Store
from karena.store.types import ModelInfo, PromptInfo

__all__ = [
    "DEMO_ARENA",
    "DemoArena",
    "attach_demo_generators",
    "build_demo_arena",
    "demo_generator_config",
    "render_in_background",
    "render_missing",
]

DEMO_ARENA = "demo"
DEMO_ARENA_NAME = "Demo: coloured shapes (procedural demo renderers, not real models)"
#: Prompts rendered before the server starts; the rest render in the background.
EAGER_PROMPTS = 2
DEMO_PROMPT_COUNT = 72

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DemoArena:
    """What the build made: the arena slug, its models and prompts (in grammar order)."""

    slug: str
    models: tuple[ModelInfo, ...]
    prompts: tuple[PromptInfo, ...]


def demo_generator_config(renderer: str) -> dict[str, object]:
    """The live-generator config of a demo renderer (a kind the generator registry refuses)."""
    return {"kind": "demo", "renderer": renderer}


def _add_demo_model(live: LiveGenerators, name: str) -> ModelInfo:
    """Add one demo renderer as a model with a stored live-generator config.

    Also attaches the renderer in-process, so typed prompts work in this process even where the
    generator registry (:mod:`karena.generators.registry`) does not know the "demo" kind.
    """
    from karena.generators.demo import get_renderer

    try:
        model = live.add_model(
            arena=DEMO_ARENA,
            name=name,
            organization=DEMO_ORGANIZATION,
            generator=demo_generator_config(name),
            exist_ok=True,
        )
    except InvalidInput:
        model = live.add_model(
            arena=DEMO_ARENA, name=name, organization=DEMO_ORGANIZATION, exist_ok=True
        )
    live.register_generator(arena=DEMO_ARENA, model=name, generator=get_renderer(name))
    return model


def attach_demo_generators(live: LiveGenerators) -> None:
    """Attach the demo renderers in-process to an existing demo arena's models."""
    from karena.generators.demo import get_renderer

    for renderer in DEMO_RENDERERS:
        live.register_generator(
            arena=DEMO_ARENA, model=renderer.name, generator=get_renderer(renderer.name)
        )


def _existing_demo_arena(store: Store, prompts: int) -> DemoArena | None:
    """The demo arena as stored when a previous build completed, else None (reads only)."""
    if DEMO_ARENA not in {a.slug for a in store.catalog.list_arenas()}:
        return None
    by_name = {m.name: m for m in store.catalog.list_models(arena=DEMO_ARENA)}
    if any(r.name not in by_name for r in DEMO_RENDERERS):
        return None
    wanted = {f"demo-{i:03d}" for i in range(prompts)}
    stored: list[PromptInfo] = []
    offset = 0
    while True:
        page = store.catalog.list_prompts(arena=DEMO_ARENA, offset=offset, limit=100)
        stored.extend(p for p in page.items if p.key in wanted)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    found = tuple(sorted(stored, key=lambda p: p.key))
    if len(found) != prompts:
        return None
    return DemoArena(DEMO_ARENA, tuple(by_name[r.name] for r in DEMO_RENDERERS), found)


def build_demo_arena(
    live: LiveGenerators, *, k: int = 4, prompts: int = DEMO_PROMPT_COUNT
) -> DemoArena:
    """Create (or find) the demo arena with its models and prompts; renders nothing.

    The renderers are attached to ``live`` in-process, for typed prompts.
    """
    store = live.store
    existing = _existing_demo_arena(store, prompts)
    if existing is not None:
        attach_demo_generators(live)
        return existing
    store.catalog.create_arena(
        slug=DEMO_ARENA, name=DEMO_ARENA_NAME, modality="image", k=k, exist_ok=True
    )
    models = tuple(_add_demo_model(live, renderer.name) for renderer in DEMO_RENDERERS)
    stored = tuple(
        store.catalog.add_prompt(
            arena=DEMO_ARENA,
            text=text,
            key=f"demo-{index:03d}",
            source=DEMO_SOURCE,
            category=DEMO_CATEGORY,
            exist_ok=True,
        )
        for index, text in enumerate(demo_prompt_texts(prompts))
    )
    return DemoArena(DEMO_ARENA, models, stored)


def render_missing(
    store: Store,
    arena: DemoArena,
    prompts: Sequence[PromptInfo],
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Render and store every missing (renderer, prompt) output; returns how many were made."""
    from karena.generators.demo import get_renderer

    total = len(prompts) * len(arena.models)
    made = done = 0
    for prompt in prompts:
        for model in arena.models:
            if stop is not None and stop.is_set():
                return made
            if store.catalog.get_output(model_id=model.id, prompt_id=prompt.id) is None:
                data = get_renderer(model.name).render(prompt.text)
                store.catalog.add_output(
                    arena=arena.slug,
                    model=model.name,
                    prompt_key=prompt.key,
                    data=data,
                    metadata={"demo": True},
                )
                made += 1
            done += 1
            if progress is not None:
                progress(done, total)
    return made


def render_in_background(
    store: Store, arena: DemoArena, prompts: Sequence[PromptInfo]
) -> threading.Event:
    """Render ``prompts`` on a daemon thread; set the returned event to stop it early."""
    stop = threading.Event()

    def work() -> None:
        try:
            render_missing(store, arena, prompts, stop=stop)
        except Exception:
            import logging

            logging.getLogger("karena.demo").exception("background demo rendering failed")

    threading.Thread(target=work, name="karena-demo-render", daemon=True).start()
    return stop
