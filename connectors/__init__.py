"""Platform connectors, one module per platform, discovered at run time (apprise's pattern).

A module whose library is missing is still listed, marked unavailable, with the reason, so a user
learns what to install instead of meeting an ImportError.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from typing import Any

from connectors.base import Connector


@dataclass(frozen=True)
class RegistryEntry:
    kind: str
    connector: type[Connector[Any]] | None
    unavailable_reason: str = ""


@cache
def registry() -> dict[str, RegistryEntry]:
    """Every connector module in this package, keyed by its config ``type``."""
    entries: dict[str, RegistryEntry] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        try:
            module = importlib.import_module(f"{__name__}.{module_info.name}")
        except ImportError as err:
            missing = err.name or str(err)
            entries[module_info.name] = RegistryEntry(
                module_info.name, None, f"needs the Python package {missing!r}; pip install it"
            )
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Connector)
                and value is not Connector
                and value.__module__ == module.__name__
                and getattr(value, "kind", None)
            ):
                entries[value.kind] = RegistryEntry(value.kind, value)
    return entries


def connector_for(kind: str) -> type[Connector[Any]]:
    entry = registry().get(kind)
    if entry is None or entry.connector is None:
        raise KeyError(kind)
    return entry.connector
