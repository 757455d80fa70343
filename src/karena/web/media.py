"""``GET /b/{token}/{slot}``: one battle output, as a per-battle copy that names no model.

Images are served through :func:`karena.media.anonymise.battle_copy` (noise keyed by the battle
and slot, one length for every image, cover-cropped to the canvas; a fixed-length JPEG by
default, ``KARENA_MEDIA_SERVED_FORMAT``), all of a battle's image
slots made together on the first request and cached per worker, so that a reload serves the same
bytes without re-encoding and no slot's latency depends on its model. Video and text are served
as stored.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam

from karena.media.anonymise import (
    BattleMediaCache,
    battle_copy,
    image_content_type,
    media_key,
)
from karena.settings import Settings
from karena.store.api import Store
from karena.store.types import MediaBlob
from karena.web.deps import StoreDep
from karena.web.schemas import error_responses

media_router = APIRouter(tags=["media"])

TokenParam = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
_TYPES = ("image/png", "image/jpeg", "image/webp", "video/mp4", "video/webm", "text/plain")


class ServedMedia:
    """What the media route needs per app: the noise key and the cache of served copies."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.media_per_battle
        self.canvas = settings.media_image_size
        self.fmt = settings.media_served_format
        self.bits_per_pixel = settings.media_jpeg_bits_per_pixel
        self.key = media_key(settings.voter_salt.get_secret_value().encode())
        self.cache = BattleMediaCache(settings.media_cache_bytes)
        # A browser asks for all K slots at once: one request makes the battle's copies while
        # the others wait for them, instead of K requests each making all K.
        self._making: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def image_type(self) -> str | None:
        """The content type image slots are served as, or None when served as stored."""
        return f"image/{self.fmt}" if self.enabled else None

    def copy(self, data: bytes, token: str, slot: int) -> bytes:
        """Slot ``slot``'s copy of ``data`` (cached)."""
        made = battle_copy(
            data,
            key=self.key,
            token=token,
            slot=slot,
            canvas=self.canvas,
            fmt=self.fmt,
            bits_per_pixel=self.bits_per_pixel,
        ).data
        self.cache.put(token, slot, made)
        return made

    def battle_copies(self, store: Store, token: str, slot: int, blob: MediaBlob) -> bytes:
        """The copy of ``slot``, after making (and caching) those of every image slot.

        Decoding costs more for a large stored file, so a slot made on its own would come back
        sooner or later depending on its model: a timing side channel. Made together on the
        first request, every slot but the first is a cache hit, and the first one's time
        depends on the whole battle, not on the slot.
        """
        if self.cache.max_bytes <= 0:
            return self.copy(blob.data, token, slot)
        with self._guard:
            lock = self._making.setdefault(token, threading.Lock())
        try:
            with lock:
                made = self.cache.get(token, slot)
                if made is not None:  # another request made them while this one waited
                    return made
                for other in store.battles.get_battle(token=token).slots:
                    if other.position == slot:
                        made = self.copy(blob.data, token, slot)
                    elif other.content_type.startswith("image/") and (
                        self.cache.get(token, other.position) is None
                    ):
                        data = store.battles.battle_media(token=token, position=other.position)
                        self.copy(data.data, token, other.position)
                return made if made is not None else self.copy(blob.data, token, slot)
        finally:
            with self._guard:
                self._making.pop(token, None)


@media_router.get(
    "/b/{token}/{slot}",
    summary="One anonymous battle output, by battle token and slot position",
    responses={
        **error_responses(404, 422),
        200: {
            "description": "the output's bytes (images: a copy made for this battle and slot)",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in _TYPES},
        },
    },
)
def battle_media(
    token: TokenParam,
    slot: Annotated[int, PathParam(ge=0, lt=8)],
    store: StoreDep,
    request: Request,
) -> Response:
    served: ServedMedia = request.app.state.served_media
    cached = served.cache.get(token, slot) if served.enabled else None
    if cached is not None:
        data, content_type = cached, image_content_type(cached)
    else:
        blob = store.battles.battle_media(token=token, position=slot)
        data, content_type = blob.data, blob.content_type
        if served.enabled and content_type.startswith("image/"):
            data = served.battle_copies(store, token, slot, blob)
            content_type = image_content_type(data)
    # No ETag, Last-Modified or Content-Disposition: each could tell one model from another.
    return Response(data, media_type=content_type, headers={"Cache-Control": "no-store"})


__all__ = ["ServedMedia", "battle_media", "media_router"]
