"""The `[slack]` table. Owned by the slack package so it can grow without touching others."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from monitor.config_base import StrictModel


class SlackSettings(StrictModel):
    sink: Literal["auto", "slack", "console"] = "auto"
    """auto: Slack when the token variable is set, else alerts print to stdout (the demo);
    slack: a missing token is a configuration error (use this in production)."""
    token_env: str | None = "SLACK_BOT_TOKEN"
    channel: str | None = None
    """Channel id (C0123...) of a private channel the bot is a member of."""
    base_url: str | None = None
    """Override Slack's API base URL (a proxy, or the tests' fake), e.g. http://127.0.0.1:9000/api/"""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
