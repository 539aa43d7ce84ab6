"""The `[slack]` table. Owned by the slack package so it can grow without touching others."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from monitor.config_base import StrictModel, secret_from_env

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]+$")


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

    @field_validator("channel")
    @classmethod
    def _channel_is_an_id(cls, value: str | None) -> str | None:
        """Slack accepts a name when posting but only an id when reading history, which the
        duplicate check after a lost reply needs; so a name must fail here, not on that day."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _CHANNEL_ID.match(value):
            raise ValueError(
                "use the channel's id (like C0123456789), not its name: in Slack open the "
                "channel's details; the id is at the bottom of the About tab"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError('must be an http(s) URL such as "https://slack.com/api/"')
        return value if value.endswith("/") else value + "/"  # slack_sdk appends the method name

    @model_validator(mode="after")
    def _slack_needs_token_and_channel(self, info: ValidationInfo) -> SlackSettings:
        if self.sink == "console":
            return self
        token = secret_from_env(info, self.token_env)
        if token is not None and token.get_secret_value().startswith("xapp-"):
            raise ValueError(
                f"{self.token_env} holds an app-level token (xapp-...); alerts need the app's "
                "Bot User OAuth Token (xoxb-...) from the OAuth & Permissions page"
            )
        if self.sink != "slack":
            return self
        if not self.token_env:
            raise ValueError(
                'sink = "slack" needs token_env, the name of the environment variable holding '
                'the bot token (e.g. token_env = "SLACK_BOT_TOKEN")'
            )
        if token is None:
            raise ValueError(
                f'sink = "slack" but the environment variable {self.token_env} is not set: '
                f"export {self.token_env}=xoxb-... (the app's Bot User OAuth Token), "
                'or set sink = "console" to print alerts instead'
            )
        if self.channel is None:
            raise ValueError(
                'sink = "slack" needs channel = "C0123456789", the id of a private channel the '
                "bot has been invited to (/invite @your-app)"
            )
        return self
