"""The one source of truth for configuration: environment variables ``KARENA_*`` and CLI flags.

Every field is listed in docs/settings.md; a test fails when one is missing there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The per-user data folder (e.g. ~/.local/share/karena)."""
    return Path(platformdirs.user_data_dir("karena", appauthor=False))


class Settings(BaseSettings):
    """karena's settings. Build one with ``Settings()``; CLI flags override via ``model_copy``."""

    model_config = SettingsConfigDict(env_prefix="KARENA_", extra="ignore")

    # Storage
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    media_dir: Path | None = None
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    media_image_size: int = Field(default=512, ge=0, le=4096)

    # Server
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    admin_token: SecretStr | None = None
    voter_salt: SecretStr = SecretStr("karena-default-salt-change-me")

    # Arena defaults
    default_k: int = Field(default=4, ge=2, le=8)
    rating_model: str = "thurstone"
    matchmaker: str = "window-ts"
    battle_ttl_seconds: float = Field(default=1800.0, gt=0)
    match_state_max_age_seconds: float = Field(default=1.0, ge=0)
    provisional_sigma: float = Field(default=2.0, gt=0)

    # Variant families and voter reliability
    variant_margin: float = Field(default=1.0, gt=0, le=25)
    batch_board_weight_voters: bool = False

    # The batch board (refitted in the background) and category boards
    batch_board_check_seconds: float = Field(default=5.0, ge=0)
    batch_board_min_new_votes: int = Field(default=50, ge=1)
    batch_board_min_interval_seconds: float = Field(default=60.0, ge=0)
    batch_board_rounds: int = Field(default=100, ge=2, le=5000)
    batch_board_claim_seconds: float = Field(default=600.0, gt=0)
    batch_board_fit_in_child: bool = True
    prompt_classifier: str | None = None
    prompt_category_rules: dict[str, list[str]] | None = None

    # Rating history and the leaderboard's movement column
    history_points: int = Field(default=200, ge=2, le=1000)
    history_batch_points: int = Field(default=50, ge=1, le=200)
    history_batch_rounds: int = Field(default=0, ge=0, le=1000)
    movement_votes: int = Field(default=1000, ge=0)

    # Abuse controls
    rate_limit_per_minute: int = Field(default=30, ge=0)
    rate_limit_per_address_per_minute: int = Field(default=120, ge=0)
    min_vote_seconds: float = Field(default=2.0, ge=0)
    export_limit_per_hour: int = Field(default=30, ge=0)
    live_generations_per_voter_per_hour: int = Field(default=20, ge=0)
    live_generations_per_address_per_hour: int = Field(default=60, ge=0)
    live_generations_per_hour: int = Field(default=600, ge=0)

    # Anonymous media and resource bounds (issue 13)
    media_per_battle: bool = True
    media_served_format: Literal["jpeg", "png"] = "jpeg"
    media_jpeg_bits_per_pixel: float = Field(default=3.75, ge=0.5, le=24)
    media_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    database_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    # Generators
    generator_timeout_seconds: float = Field(default=60.0, gt=0)
    web_generation_threads: int = Field(default=2, ge=0, le=64)
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1, le=100)
    job_retry_backoff_seconds: float = Field(default=2.0, ge=0)
    worker_poll_seconds: float = Field(default=0.5, gt=0, le=60)

    # Judge (K-Sort Eval)
    judge_base_url: str = "http://127.0.0.1:8001/v1"
    judge_model: str = "gpt-4o"
    judge_api_key_env: str = "OPENAI_API_KEY"
    judge_timeout_seconds: float = Field(default=120.0, gt=0)
    judge_concurrency: int = Field(default=4, ge=1)
    judge_max_retries: int = Field(default=5, ge=0)

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data dir."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'karena.db'}"

    def resolved_media_dir(self) -> Path:
        """The media folder, defaulting to ``<data_dir>/media``."""
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"


def settings_error_message(exc: ValidationError) -> str:
    """A pydantic error as one line naming each bad setting by its environment variable.

    e.g. ``KARENA_RATE_LIMIT_PER_MINUTE='abc' is not valid: Input should be a valid integer``.
    (The secrets, SecretStr fields, accept any text, so no secret is ever repeated here.)
    """
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        if exc.title == Settings.__name__ and field:
            name = f"{Settings.model_config.get('env_prefix', '')}{field}".upper()
            parts.append(f"{name}={error.get('input')!r} is not valid: {error['msg']}")
        else:
            where = ".".join(str(x) for x in error.get("loc", ()))
            parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts) or str(exc).splitlines()[0]
