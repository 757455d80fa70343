"""Every setting is documented, and settings read the environment as documented."""

from pathlib import Path

from karena.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [
        f"KARENA_{name.upper()}"
        for name in Settings.model_fields
        if f"KARENA_{name.upper()}" not in text
    ]
    assert missing == [], f"undocumented settings in docs/settings.md: {missing}"


def test_environment_overrides_defaults(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KARENA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KARENA_DEFAULT_K", "6")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.default_k == 6
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'karena.db'}"
    assert settings.resolved_media_dir() == tmp_path / "media"


def test_zero_is_a_legitimate_value(monkeypatch) -> None:
    """min_vote_seconds=0 must stay 0, not fall back to a default."""
    monkeypatch.setenv("KARENA_MIN_VOTE_SECONDS", "0")
    monkeypatch.setenv("KARENA_RATE_LIMIT_PER_MINUTE", "0")
    settings = Settings()
    assert settings.min_vote_seconds == 0.0
    assert settings.rate_limit_per_minute == 0
