"""The `[slack]` table. Owned by the slack package so it can grow without touching others."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.models import Severity
from monitor.settings_base import StrictModel, secret_from_env, secrets_required

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]+$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_HELP = (
    "use the channel's id (like C0123456789), not its name: in Slack open the "
    "channel's details; the id is at the bottom of the About tab"
)


def channel_id(value: str | None) -> str | None:
    """A channel id, or None for an empty value; a name is refused (see `_channel_is_an_id`)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _CHANNEL_ID.match(value):
        raise ValueError(_CHANNEL_HELP)
    return value


def group_id(value: str | None) -> str | None:
    """A user group id (S0123...), the only form Slack turns into a ``<!subteam^ID>`` ping."""
    if value is None or not value.strip():
        return None
    value = value.strip().removeprefix("<!subteam^").removesuffix(">")
    if not _GROUP_ID.match(value):
        raise ValueError(
            "use the user group's id (like S0123456789): in Slack open People → User groups, "
            "the group's ⋮ menu → Copy group ID"
        )
    return value


def user_id(value: str) -> str:
    """A Slack user id (U0123... or W0123...): what `allowed_users` lists."""
    value = value.strip().removeprefix("<@").removesuffix(">")
    if not _USER_ID.match(value):
        raise ValueError(
            f"{value!r} is not a user id: use ids like U0123456789 (in Slack open the person's "
            "profile, the ⋮ menu → Copy member ID), not names"
        )
    return value


def _as_list(value: Any) -> Any:
    """A single value where a list is expected reads as a list of one (``platform = "x"``)."""
    return [value] if isinstance(value, str) else value


def _check_channel(value: Any) -> Any:
    return channel_id(value) if isinstance(value, str) else value


def _check_group(value: Any) -> Any:
    return group_id(value) if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_as_list)]
ChannelId = Annotated[str, BeforeValidator(_check_channel)]
OptionalChannelId = Annotated[str | None, BeforeValidator(_check_channel)]
OptionalGroupId = Annotated[str | None, BeforeValidator(_check_group)]


class RouteRule(StrictModel):
    """``[[slack.routes]]``: alerts matching every condition given go to `channel`.

    Each condition lists alternatives (any one matches); rules are tried in order and the first
    match wins; an alert no rule matches goes to ``[slack] channel``.
    """

    channel: ChannelId
    platform: StrList = Field(default_factory=list)
    severity: Annotated[list[Severity], BeforeValidator(_as_list)] = Field(default_factory=list)
    keyword: StrList = Field(default_factory=list)
    """Words or phrases in the post (same syntax as brand terms: "quoted phrases", `*`)."""
    language: StrList = Field(default_factory=list)
    author: StrList = Field(default_factory=list)
    """Author handles, without @."""
    rating: Annotated[list[Annotated[int, Field(ge=1, le=5)]], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    """A review's stars (app stores), e.g. ``[1, 2]``; a post with no rating never matches."""
    allow_public_channel: bool = False

    @field_validator("platform", "language", "author")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.strip().lstrip("@").lower() for v in values if v.strip()]

    @model_validator(mode="after")
    def _has_a_condition(self) -> RouteRule:
        conditions = (self.platform, self.severity, self.keyword, self.language, self.author)
        if not (any(conditions) or self.rating):
            raise ValueError(
                "a route needs at least one of platform, severity, keyword, language, author, "
                "rating (alerts no route matches go to [slack] channel)"
            )
        return self


class VipSettings(StrictModel):
    """``[slack.vip]``: where VIP complaints go (brand.vip_authors / vip_min_followers)."""

    channel: OptionalChannelId = None
    """A priority channel; unset: the channel the routes choose."""
    mention: OptionalGroupId = None
    """A user group id (S0123...) pinged on every VIP alert."""
    allow_public_channel: bool = False


DEFAULT_SLA_MINUTES = {Severity.HIGH: 15.0, Severity.MEDIUM: 60.0, Severity.LOW: 240.0}
DEFAULT_REMINDER_MINUTES = {Severity.HIGH: 60.0, Severity.MEDIUM: 240.0, Severity.LOW: 1440.0}


def _minutes_over(defaults: dict[Severity, float]) -> AfterValidator:
    """Severities left out keep their default: ``sla_minutes = {high = 5}`` changes only high."""

    def check(value: dict[Severity, float]) -> dict[Severity, float]:
        for severity, minutes in value.items():
            if minutes <= 0:
                raise ValueError(f"{severity.value}: must be a positive number of minutes")
        return defaults | value

    return AfterValidator(check)


class EscalationSettings(StrictModel):
    """``[slack.escalation]``: an SLA per severity. Runs only with buttons (an app token)."""

    sla_minutes: Annotated[dict[Severity, float], _minutes_over(DEFAULT_SLA_MINUTES)] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_MINUTES)
    )
    """Unclaimed this long after it was posted: a reply in its thread pings `oncall_group`."""
    reminder_minutes: Annotated[dict[Severity, float], _minutes_over(DEFAULT_REMINDER_MINUTES)] = (
        Field(default_factory=lambda: dict(DEFAULT_REMINDER_MINUTES))
    )
    """Claimed but not resolved this long after the claim: the claimer is reminded."""
    oncall_group: OptionalGroupId = None
    """The user group id (S0123...) an escalation pings."""
    channel: OptionalChannelId = None
    """A copy of each escalation goes here too, when set."""
    allow_public_channel: bool = False
    check_interval_seconds: float = Field(default=60.0, ge=1, le=3600)

    def sla(self, severity: Severity) -> timedelta | None:
        minutes = self.sla_minutes.get(severity)
        return None if minutes is None else timedelta(minutes=minutes)

    def reminder(self, severity: Severity) -> timedelta | None:
        minutes = self.reminder_minutes.get(severity)
        return None if minutes is None else timedelta(minutes=minutes)


class StormSettings(StrictModel):
    """``[slack.storms]``: many complaints on one topic become one incident thread."""

    enabled: bool = False
    """Off by default: every complaint is its own message until the team opts in."""
    threshold: int = Field(default=10, ge=1)
    """More than this many complaints on one topic within `window_minutes` is a storm."""
    window_minutes: float = Field(default=10.0, gt=0, le=24 * 60)
    topics: dict[str, StrList] = Field(default_factory=dict)
    """Keyword clusters, e.g. ``outage = ["down", "not loading", "502"]``; checked before the
    classifier's cues (a post's topic is otherwise its strongest problem cue)."""
    max_per_reply: int = Field(default=40, ge=1, le=45)
    """Complaints per thread reply while catching up (Slack takes about one message a second)."""
    seconds_between_posts: float = Field(default=1.0, ge=0, le=60)
    """Pace of thread replies per channel, so Slack's rate limit is not hit."""

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


class DigestSettings(StrictModel):
    """``[slack.digest]``: a daily summary; off until `time` is set."""

    time: str | None = None
    """Local time of day, "HH:MM", in `timezone`."""
    timezone: str = "UTC"
    channel: OptionalChannelId = None
    """Default: ``[slack] channel``."""
    allow_public_channel: bool = False

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            dt.time.fromisoformat(value.strip())
        except ValueError as err:
            raise ValueError('use a 24-hour "HH:MM" time of day, e.g. "09:00"') from err
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError('an IANA time zone name such as "Europe/Paris" or "UTC"') from err
        return value

    @property
    def enabled(self) -> bool:
        return self.time is not None

    @property
    def local_time(self) -> dt.time:
        assert self.time is not None
        return dt.time.fromisoformat(self.time)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """A channel the config sends to, the key that names it, and whether it may be public."""

    key: str
    channel: str
    allow_public: bool


class SlackSettings(StrictModel):
    sink: Literal["auto", "slack", "console"] = "auto"
    """auto: Slack when the token variable is set, else alerts print to stdout (the demo);
    slack: a missing token is a configuration error (use this in production)."""
    token_env: str | None = "SLACK_BOT_TOKEN"
    channel: str | None = None
    """Channel id (C0123...) of a private channel the bot is a member of."""
    ops_channel: OptionalChannelId = None
    """Notices for the people running the monitor (a source failing or silent, a read budget
    running out, posts set aside); default: `channel`. Private like the others."""
    base_url: str | None = None
    """Override Slack's API base URL (a proxy, or the tests' fake), e.g. http://127.0.0.1:9000/api/"""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    allow_public_channel: bool = False
    """Customer complaints belong in private channels: a public `channel` is refused unless
    this is true."""
    app_token_env: str | None = "SLACK_APP_TOKEN"
    """The app-level token (xapp-..., scope connections:write) for Socket Mode: with it alerts
    carry Claim / Resolved / Not a complaint buttons; without it they go out without buttons."""
    routes: list[RouteRule] = Field(default_factory=list)
    vip: VipSettings = Field(default_factory=VipSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    storms: StormSettings = Field(default_factory=StormSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    mute_days: int = Field(default=30, ge=0, le=3650)
    """How long "Mute author" lasts; 0: until someone unmutes. A muted author's posts are
    still stored and counted, never alerted."""
    allowed_users: StrList = Field(default_factory=list)
    """User ids (U0123...) allowed to change an alert (buttons) and to report a missed one
    (``/complaint-monitor missed``). With neither this nor `allowed_group`, everyone in the
    channel may."""
    allowed_group: OptionalGroupId = None
    """A user group id (S0123...) whose members may do the same (checked with
    ``usergroups.users.list``: the ``usergroups:read`` scope)."""

    @field_validator("allowed_users")
    @classmethod
    def _user_ids(cls, values: list[str]) -> list[str]:
        return [user_id(v) for v in values if v.strip()]

    @property
    def restricted(self) -> bool:
        """Only `allowed_users` and members of `allowed_group` may change alerts."""
        return bool(self.allowed_users or self.allowed_group)

    def command_channels(self) -> set[str]:
        """Where ``/complaint-monitor`` is accepted: the private channels this config posts to."""
        return {target.channel for target in self.target_channels()}

    @field_validator("channel")
    @classmethod
    def _channel_is_an_id(cls, value: str | None) -> str | None:
        """Slack accepts a name when posting but only an id when reading history, which the
        duplicate check after a lost reply needs; so a name must fail here, not on that day."""
        return channel_id(value)

    @property
    def interactive(self) -> bool:
        """Buttons need Socket Mode, which needs the app-level token."""
        return self.secret("app_token") is not None

    def target_channels(self) -> list[ChannelTarget]:
        """Every channel this config posts to, once each (a repeat keeps the strictest flag)."""
        targets: list[ChannelTarget] = []
        if self.channel:
            targets.append(
                ChannelTarget("[slack] channel", self.channel, self.allow_public_channel)
            )
        if self.ops_channel:
            targets.append(ChannelTarget("[slack] ops_channel", self.ops_channel, False))
        for index, route in enumerate(self.routes):
            targets.append(
                ChannelTarget(
                    f"[[slack.routes]] #{index + 1} channel",
                    route.channel,
                    route.allow_public_channel,
                )
            )
        for key, table in (
            ("[slack.vip] channel", self.vip),
            ("[slack.escalation] channel", self.escalation),
            ("[slack.digest] channel", self.digest),
        ):
            if table.channel:
                targets.append(ChannelTarget(key, table.channel, table.allow_public_channel))
        unique: dict[str, ChannelTarget] = {}
        for target in targets:
            seen = unique.get(target.channel)
            if seen is None or (seen.allow_public and not target.allow_public):
                unique[target.channel] = target
        return list(unique.values())

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
        required = secrets_required(info)  # `stats`, `replay`... send nothing: no token asked
        token = secret_from_env(info, self.token_env) if required else None
        if token is not None and token.get_secret_value().startswith("xapp-"):
            raise ValueError(
                f"{self.token_env} holds an app-level token (xapp-...); alerts need the app's "
                "Bot User OAuth Token (xoxb-...) from the OAuth & Permissions page"
            )
        app_token = secret_from_env(info, self.app_token_env) if required else None
        if app_token is not None and not app_token.get_secret_value().startswith("xapp-"):
            raise ValueError(
                f"{self.app_token_env} must hold the app-level token (xapp-...) used for Socket "
                "Mode: Basic Information → App-Level Tokens, with the connections:write scope"
            )
        if self.sink != "slack":
            return self
        if not self.token_env:
            raise ValueError(
                'sink = "slack" needs token_env, the name of the environment variable holding '
                'the bot token (e.g. token_env = "SLACK_BOT_TOKEN")'
            )
        if token is None and required:
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
