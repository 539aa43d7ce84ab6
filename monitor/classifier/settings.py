"""The `[classifier]` table, owned by the classifier package so it grows without touching others."""

from __future__ import annotations

from pydantic import Field

from monitor.config_base import StrictModel


class ClassifierSettings(StrictModel):
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Score at or above which a post is a complaint. Lower it to err further toward recall."""
    supported_languages: list[str] = Field(default_factory=lambda: ["en"])
    """Languages the scorer reads; posts in others are marked unsupported_language, not dropped."""
    extra_cues: dict[str, float] = Field(default_factory=dict)
    """Brand-specific phrases and their weight, e.g. {"app crashed" = 1.5}."""
    high_reach_followers: int = Field(default=10_000, ge=0)
    """An author with at least this many followers gets complaint severity raised one level."""
