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


def base_dir_from(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir") or Path.cwd())


def secret_from_env(info: ValidationInfo, env_name: str | None) -> SecretStr | None:
    """Read the secret an ``*_env`` key names; an empty variable counts as unset."""
    if not env_name:
        return None
    value = env_from(info).get(env_name, "").strip()
    return SecretStr(value) if value else None
