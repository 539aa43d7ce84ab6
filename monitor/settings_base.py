"""The base of every settings table: strict keys, frozen values, secrets read from the environment.

Kept apart from `monitor.config` so each package can own its own table without import cycles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, ValidationInfo, model_validator


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently turn a feature off); values are frozen.

    Every key ending in ``_env`` names an environment variable holding a secret; it is read once,
    at validation, and kept out of the model's fields so no dump or repr can print it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _secrets: dict[str, SecretStr | None] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve_secrets(self, info: ValidationInfo) -> Self:
        for key in type(self).model_fields:
            if key.endswith("_env"):
                self._secrets[key.removesuffix("_env")] = secret_from_env(info, getattr(self, key))
        return self

    def secret(self, name: str) -> SecretStr | None:
        """The resolved secret for the ``<name>_env`` key, or None when that variable is unset."""
        return self._secrets.get(name)


def env_from(info: ValidationInfo) -> Mapping[str, str]:
    """The environment given to `load_config` (tests pass their own), else the process's."""
    context = info.context or {}
    env = context.get("env")
    return env if env is not None else os.environ


def secrets_required(info: ValidationInfo) -> bool:
    """Whether a missing secret is an error in this load. Only the commands that fetch or send
    (`run`, `check-config`) ask for them; `stats`, `replay`, `train`... load the same file with
    ``require_secrets=False``, so they run where the service's secrets are not (an operator's
    shell, ``systemd-run`` without the secrets file). Without a context: required."""
    context = info.context or {}
    return bool(context.get("require_secrets", True))


def base_dir_from(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir") or Path.cwd())


def secret_from_env(info: ValidationInfo, env_name: str | None) -> SecretStr | None:
    """Read the secret an ``*_env`` key names; an empty variable counts as unset. When the
    variable is unset, a systemd credential of the same name is read instead
    (`credential_from`), so `LoadCredential=` can replace `EnvironmentFile=`."""
    if not env_name:
        return None
    env = env_from(info)
    value = env.get(env_name, "").strip() or credential_from(env, env_name)
    return SecretStr(value) if value else None


def credential_from(env: Mapping[str, str], name: str) -> str:
    """``$CREDENTIALS_DIRECTORY/<name>`` (systemd's `LoadCredential=`/`SetCredential=`, a
    private, read-only copy only this service sees), stripped; empty when there is none."""
    directory = env.get("CREDENTIALS_DIRECTORY", "")
    if not directory or not name or "/" in name or name in (".", ".."):
        return ""
    try:
        return (Path(directory) / name).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
