"""``GET /b/{token}/{slot}``: one battle output, as a per-battle copy that names no model.

Images are served through :func:`karena.media.anonymise.battle_image` (noise keyed by the battle
and slot, one length for every image, cover-cropped to the canvas), cached per worker so that a
reload serves the same bytes without re-encoding. Video and text are served as stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam

from karena.media.anonymise import BattleMediaCache, battle_image, media_key
from karena.settings import Settings
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
        self.key = media_key(settings.voter_salt.get_secret_value().encode())
        self.cache = BattleMediaCache(settings.media_cache_bytes)

    def image(self, data: bytes, token: str, slot: int) -> bytes:
        """The slot's copy of ``data``, from the cache or made now."""
        cached = self.cache.get(token, slot)
        if cached is not None:
            return cached
        copy = battle_image(data, key=self.key, token=token, slot=slot, canvas=self.canvas)
        self.cache.put(token, slot, copy)
        return copy


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
    blob = store.battles.battle_media(token=token, position=slot)
    served: ServedMedia = request.app.state.served_media
    data, content_type = blob.data, blob.content_type
    if served.enabled and content_type.startswith("image/"):
        data, content_type = served.image(data, token, slot), "image/png"
    # No ETag, Last-Modified or Content-Disposition: each could tell one model from another.
    return Response(data, media_type=content_type, headers={"Cache-Control": "no-store"})


__all__ = ["ServedMedia", "battle_media", "media_router"]
