"""The `[classifier]` table, owned by the classifier package so it grows without touching others."""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from monitor.settings_base import StrictModel


class ClassifierSettings(StrictModel):
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Score at or above which a post is a complaint. Lower it to err further toward recall."""
    supported_languages: list[str] = Field(default_factory=lambda: ["en"])
    """Languages the scorer reads; posts in others are marked unsupported_language, not dropped."""
    extra_cues: dict[str, float] = Field(default_factory=dict)
    """Brand-specific phrases and their weight, e.g. {"app crashed" = 1.5}."""
    high_reach_followers: int = Field(default=10_000, ge=0)
    """An author with at least this many followers gets complaint severity raised one level."""

    # -- learning from the team's feedback ------------------------------------------------------
    use_model: bool = True
    """Combine the scorer with the model trained on feedback, when one has been trained."""
    auto_train: bool = True
    """Retrain on a schedule once `retrain_after_feedback` new labels exist."""
    retrain_after_feedback: int = Field(default=50, ge=1)
    """New labels (Slack clicks, imports) since the current model that trigger a retrain."""
    retrain_check_minutes: int = Field(default=60, ge=1)
    """How often the daemon looks for new feedback (and for a model `train` saved)."""
    min_training_examples: int = Field(default=40, ge=10)
    """Fewer labels than this (or fewer than 10 of either class) and the scorer runs alone."""
    train_timeout_seconds: float = Field(default=900.0, gt=0)
    """A fit (in its own process) still running after this is stopped; the current model stays.
    20,000 labels take about 40 s on 2 cores."""
    train_memory_mb: int = Field(default=1024, ge=64)
    """Address-space cap of the training process; a fit that needs more stops, and the current
    model stays. 20,000 labels reach about 410 MB resident, 600 MB of address space."""
    explicit_label_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    """Training weight of a deliberate label: a `feedback import` row or "Not a complaint" in
    Slack. The reference the others are weighed against."""
    resolved_label_weight: float = Field(default=0.5, ge=0.0, le=10.0)
    """Training weight of an alert closed with "Resolved" (a complaint). Half: resolving says the
    team handled the post, and most handled posts are complaints, but a question answered or an
    alert closed to clear the queue is resolved too; these clicks are also the most numerous, so
    at full weight they would outvote the labels people gave on purpose. 0 leaves them out."""
    missed_label_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    """Training weight of `/complaint-monitor missed <link>` (a complaint). Full: someone found
    the post and reported it on purpose, and it is exactly the kind of complaint the model
    misses (raise it to learn faster from misses)."""
    fine_tune: bool = False
    """Also fine-tune a small sentence encoder (all-MiniLM-L6-v2, the `[finetune]` extra) on the
    feedback, beside the n-grams. Off by default: a fit costs minutes of CPU and over 1 GB in the
    training process, and a promoted model keeps torch in the daemon (raise the unit's
    MemoryMax: see the README). Kept only when it beats the model without it on held-out labels."""
    fine_tune_min_labels: int = Field(default=500, ge=40)
    """Fewer labels than this and the encoder is not fine-tuned (too few to move it safely)."""
    fine_tune_epochs: int = Field(default=4, ge=1, le=10)
    fine_tune_timeout_seconds: float = Field(default=3600.0, gt=0)
    """Replaces `train_timeout_seconds` for a fit that fine-tunes (one core, minutes per 1,000
    labels)."""
    fine_tune_memory_mb: int = Field(default=4096, ge=1024)
    """Replaces `train_memory_mb` for a fit that fine-tunes: torch maps far more address space
    than it touches."""

    # -- optional second opinion from a language model the team hosts --------------------------
    llm_base_url: str | None = None
    """An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (a local model server keeps
    customer text in-house). Unset: no second opinion."""
    llm_model: str | None = None
    llm_api_key_env: str | None = None
    """Environment variable holding the endpoint's API key, if it needs one."""
    llm_timeout_seconds: float = Field(default=4.0, gt=0, le=60)
    llm_per_minute: int = Field(default=30, ge=1)
    """At most this many posts per minute are sent; the rest keep the scorer's verdict."""
    llm_margin: float = Field(default=0.08, gt=0, le=0.5)
    """Only posts whose score is within this of the threshold are sent. A post with no cue at
    all scores 0.40; at 0.1 or more every such post (most mentions) would be sent too."""

    @field_validator("llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "llm_base_url must be an http(s) URL such as http://127.0.0.1:8080/v1 "
                "(the part before /chat/completions)"
            )
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _model_named(self) -> Self:
        if self.llm_base_url and not (self.llm_model or "").strip():
            raise ValueError("llm_base_url is set but llm_model is not: name the model to ask")
        return self
