"""Media: content-addressed storage, validation by content, and metadata-free re-encoding."""

from karena.media.storage import MediaStore, StoredMedia
from karena.media.validate import Detected, MediaKind, detect, validate_bytes

__all__ = ["Detected", "MediaKind", "MediaStore", "StoredMedia", "detect", "validate_bytes"]
