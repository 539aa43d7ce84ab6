"""The configuration: one TOML file validated into one typed, frozen object at start-up.

Secrets never sit in the file: a key ending in ``_env`` names an environment variable, resolved
once here into a `SecretStr` (which prints as ``**********``). Relative paths are resolved against
the config file's directory, so a config runs the same from any working directory.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors import registry
from connectors.base import SourceSettings
from monitor.brand import BrandSettings
from monitor.classifier.settings import ClassifierSettings
from monitor.errors import ConfigError
from monitor.settings_base import StrictModel, base_dir_from, env_from
from monitor.silence import SilenceSettings
from monitor.slack.settings import SlackSettings


def default_state_dir(env: Mapping[str, str]) -> Path:
    """systemd's `StateDirectory=` sets $STATE_DIRECTORY; otherwise the XDG state directory."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    xdg = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "complaint-monitor"


class DaemonSettings(StrictModel):
    state_dir: Path | None = None
    """Where the SQLite database and trained models live; default $STATE_DIRECTORY or XDG."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    deliver_interval_seconds: float = Field(default=2.0, ge=0.2, le=300)
    """How often pending alerts are retried; new alerts are delivered right after each poll."""
    lease_seconds: float = Field(default=60.0, ge=5, le=3600)
    """With several replicas on PostgreSQL: how long a replica keeps a source after its last
    poll; a replica that dies hands its sources over within this time."""
    poll_workers: int | None = Field(default=None, ge=1, le=256)
    """Polls that may run at once; default one per enabled source, at most 32
    (`monitor.scheduling`). Delivery and maintenance have workers of their own."""
    notify_after_failures: int = Field(default=3, ge=1, le=1000)
    """A source failing this many polls in a row (or for 15 minutes) posts one notice to
    ``[slack] ops_channel``; a refused token or a spent quota is told at once."""
    summary_minutes: float = Field(default=60.0, ge=1, le=24 * 60)
    """One INFO line per source this often; a poll that changed nothing logs at DEBUG."""
    silence: SilenceSettings = Field(default_factory=SilenceSettings)
    """``[daemon.silence]``: a source quiet for longer than its own rhythm allows."""
    http_listen: str | None = None
    """``host:port`` of the local HTTP port (/metrics, /healthz, /readyz), e.g.
    ``127.0.0.1:9464``; unset: no port."""
    web_token_env: str | None = None
    """The environment variable (or systemd credential) holding the login token of the
    read-only history pages at ``/`` on `http_listen`; unset: no history pages."""
    ready_outbox_max_age_seconds: float = Field(default=900.0, ge=10, le=86_400 * 7)
    """/readyz fails when the oldest alert waiting for Slack has waited longer than this."""

    @field_validator("http_listen")
    @classmethod
    def _listen_address(cls, value: str | None) -> str | None:
        from monitor.web.server import parse_listen  # no web stack: only the parser

        if value is not None:
            parse_listen(value)
        return value

    @model_validator(mode="after")
    def _resolve_state_dir(self, info: ValidationInfo) -> DaemonSettings:
        if self.state_dir is None:
            object.__setattr__(self, "state_dir", default_state_dir(env_from(info)))
        elif not self.state_dir.is_absolute():
            object.__setattr__(self, "state_dir", base_dir_from(info) / self.state_dir)
        return self

    @property
    def state_path(self) -> Path:
        assert self.state_dir is not None  # set by the validator
        return self.state_dir


class DatabaseSettings(StrictModel):
    url: str | None = None
    """A SQLAlchemy URL; default ``sqlite:///<state_dir>/monitor.db``. PostgreSQL:
    ``postgresql+psycopg://user@host/db`` (install the ``postgres`` extra)."""
    url_env: str | None = None
    """Or the name of an environment variable holding the URL (when it embeds a password)."""

    def resolved_url(self, state_dir: Path) -> str:
        from_env = self.secret("url")
        if from_env is not None:
            return from_env.get_secret_value()
        return self.url or f"sqlite:///{state_dir / 'monitor.db'}"


class RetentionSettings(StrictModel):
    days: int | None = Field(default=None, ge=1)
    """Delete posts, verdicts and delivered alerts older than this (daily counts are kept for
    `stats`); unset keeps everything. Undelivered alerts are never purged."""
    batch_size: int = Field(default=500, ge=10, le=100_000)
    """Posts per transaction: each batch holds SQLite's write lock for tens of ms, and the
    purge pauses between batches so polls write in between."""
    max_seconds_per_run: float = Field(default=120.0, ge=1, le=86_400)
    """A daily run stops after this long; what is left (after a long stop, or when `days` was
    lowered) goes on the next runs, and the log says how much is left."""
    feedback_days: int | None = Field(default=None, ge=1)
    """Delete the team's labeled examples (post text included) older than this; unset keeps them,
    since they are what the model is retrained from. Saved models keep only n-gram weights."""


def _validate_source(raw: Any, info: ValidationInfo) -> SourceSettings:
    """Pick the settings class by the table's `type`, so each connector owns its own keys."""
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise ValueError('each [[sources]] table needs a type, e.g. type = "jsonl"')
    available = registry()
    kind = raw["type"]
    entry = available.get(kind)
    if entry is None:
        raise ValueError(
            f"unknown source type {kind!r}; known types: {', '.join(sorted(available))}"
        )
    if entry.connector is None:
        raise ValueError(f"source type {kind!r} is unavailable: {entry.unavailable_reason}")
    return entry.connector.settings_class.model_validate(raw, context=info.context)


class MonitorConfig(StrictModel):
    daemon: DaemonSettings = Field(default={}, validate_default=True)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    brand: BrandSettings
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    sources: list[Annotated[SourceSettings, BeforeValidator(_validate_source)]] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _unique_source_names(self) -> MonitorConfig:
        names = [s.name for s in self.sources]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"source names must be unique, {', '.join(duplicated)} repeats: "
                'give each [[sources]] table its own name = "..."'
            )
        return self

    @property
    def database_url(self) -> str:
        return self.database.resolved_url(self.daemon.state_path)

    def enabled_sources(self) -> list[SourceSettings]:
        return [s for s in self.sources if s.enabled]


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def explain(error: ValidationError) -> str:
    """Turn pydantic's errors into lines that name the key and the fix."""
    lines = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = _location(loc)
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key; check its spelling and the section it is in")
        elif err["type"] == "missing":
            lines.append(f"{where}: required key is missing; add it")
        else:
            message = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
            lines.append(f"{where}: {message}{shown}")
    return "\n".join(lines)


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    source: str = "<config>",
    require_secrets: bool = True,
) -> MonitorConfig:
    """`require_secrets=False` for the commands that neither fetch nor send: the file is
    validated the same, but an unset ``*_env`` variable is no error (its secret is None)."""
    context = {
        "env": env if env is not None else os.environ,
        "base_dir": base_dir,
        "require_secrets": require_secrets,
    }
    try:
        return MonitorConfig.model_validate(dict(data), context=context)
    except ValidationError as err:
        raise ConfigError(f"invalid configuration in {source}:\n{explain(err)}") from err


DEFAULT_CONFIG_PATHS = (Path("/etc/complaint-monitor/monitor.toml"), Path("config/monitor.toml"))
CONFIG_ENV = "COMPLAINT_MONITOR_CONFIG"
"""Names the configuration when --config is not given (set it once in an operator's shell)."""


def find_config(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Path:
    """--config, else $COMPLAINT_MONITOR_CONFIG, else the first default path that exists."""
    if explicit:
        return Path(explicit)
    from_env = (env if env is not None else os.environ).get(CONFIG_ENV, "").strip()
    if from_env:
        return Path(from_env)
    for candidate in DEFAULT_CONFIG_PATHS:
        if candidate.exists():
            return candidate
    raise ConfigError(
        f"no configuration file given: pass --config PATH or set ${CONFIG_ENV} "
        f"(looked for {', '.join(str(p) for p in DEFAULT_CONFIG_PATHS)}); "
        "start from config/monitor.example.toml"
    )


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    require_secrets: bool = True,
) -> MonitorConfig:
    """Read, parse and validate; every problem is a `ConfigError` naming the key and the fix."""
    config_path = find_config(path, env)
    try:
        raw = config_path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read configuration {config_path}: {err.strerror}") from err
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{config_path} is not UTF-8 text: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{config_path} is not valid TOML: {err}") from err
    return parse_config(
        data,
        base_dir=config_path.resolve().parent,
        env=env,
        source=str(config_path),
        require_secrets=require_secrets,
    )


def masked_dump(config: MonitorConfig) -> dict[str, Any]:
    """The effective configuration as plain data, secrets shown as set/unset, never their value."""

    def clean(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "********** (set)"
        if isinstance(value, BaseModel):
            return {k: clean(getattr(value, k)) for k in type(value).model_fields} | {
                k: clean(v) for k, v in _secret_fields(value).items()
            }
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    dumped: dict[str, Any] = clean(config)
    dumped["database"]["effective_url"] = _mask_url(config.database_url)
    return dumped


def _secret_fields(model: BaseModel) -> dict[str, str]:
    """For each ``<name>_env`` key, whether the variable it names is set (never the value)."""
    if not isinstance(model, StrictModel):
        return {}
    return {
        name: "********** (set)" if value is not None else "(not set)"
        for name, value in model._secrets.items()
    }


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


# -- files and secrets ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\b(?:xox[abposr]-[\w-]{10,}|xapp-[\w-]{10,}|sk-[\w-]{20,}|gh[pousr]_\w{20,}"
    r"|AAAAAAAAAAAAAAAAAAAAA[\w%-]{20,})"
)
"""Slack bot/user/app tokens, OpenAI-style API keys, GitHub tokens, X app bearer tokens."""


def exposed_secrets(config_path: str | os.PathLike[str] | None) -> list[str]:
    """Warnings (never the values) for a config file every user can read that holds a
    secret-looking value: a URL with a password (mainly `[database] url`) or a token."""
    try:
        path = find_config(config_path)
        mode = path.stat().st_mode
        if not mode & stat.S_IROTH:
            return []
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (ConfigError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # load_config reports an unreadable file
    warnings = []
    for key, value in _strings(data):
        if _has_password(value):
            what = "a URL with a password"
        elif _TOKEN.search(value):
            what = "what looks like a token"
        else:
            continue
        fix = "url_env" if key == "database.url" else "the matching *_env key"
        warnings.append(
            f"{path} is readable by every user (mode {stat.S_IMODE(mode):o}) and {key} holds "
            f"{what}: move it to an environment variable ({fix}) and run `chmod o-r {path}`"
        )
    return warnings


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{key}[{index}]")


def _has_password(value: str) -> bool:
    if "://" not in value:
        return False
    try:
        return bool(urlsplit(value.strip()).password)
    except ValueError:
        return False


def check_state_dir(state_dir: Path) -> None:
    """The state directory exists and is writable, or can be created: otherwise a
    `ConfigError` (exit 2) that names it, before anything is started."""
    existing = state_dir
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # the nearest ancestor must let us create the rest
        is_dir = existing.is_dir()
        usable = is_dir and os.access(existing, os.W_OK | os.X_OK)
    except OSError as err:
        is_dir, usable = True, False
        existing = Path(err.filename or existing)
    if usable:
        return
    where = f"state directory {state_dir}"
    if existing != state_dir:
        where += f" cannot be created: {existing}"
    why = "is not writable by this user" if is_dir else "is not a directory"
    raise ConfigError(
        f"{where} {why}; set [daemon] state_dir to a directory this user can write "
        "(under systemd, StateDirectory= provides one)"
    )
