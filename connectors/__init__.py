"""Platform connectors, one module per platform, discovered at run time (apprise's pattern).

A module whose library is missing is still listed, marked unavailable, with the ``pip install``
that brings it, so a user learns what to install instead of meeting an ImportError. What a module
needs is its connector's `requires` (import name -> pip extra), read from the module's source
before it is imported: importing it is exactly what fails when the library is missing. Modules
whose names start with ``_`` are a platform's private parts and not connectors.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from connectors.base import Connector

DISTRIBUTION = "complaint-monitor"


@dataclass(frozen=True)
class RegistryEntry:
    kind: str
    """The config's ``type`` (the module's name while it cannot be imported)."""
    connector: type[Connector[Any, Any]] | None
    """None when unavailable."""
    unavailable_reason: str = ""
    requires: Mapping[str, str] = field(default_factory=dict)
    """Import name -> pip extra, as the connector declares it."""


@cache
def registry() -> dict[str, RegistryEntry]:
    """Every connector module in this package, keyed by its config ``type``."""
    return build_registry()


def build_registry() -> dict[str, RegistryEntry]:
    """The registry, looked up afresh (`registry` keeps the first answer for the process)."""
    entries: dict[str, RegistryEntry] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        for entry in _entries(f"{__name__}.{module_info.name}", module_info.name):
            entries[entry.kind] = entry
    return dict(sorted(entries.items()))


def connector_for(kind: str) -> type[Connector[Any, Any]]:
    entry = registry().get(kind)
    if entry is None or entry.connector is None:
        raise KeyError(kind)
    return entry.connector


def _entries(module_name: str, short_name: str) -> list[RegistryEntry]:
    requires = declared_requires(module_name)
    kind = declared_kind(module_name) or short_name  # feeds.py holds type "feed"
    missing = [name for name in requires if not _installed(name)]
    if missing:
        return [RegistryEntry(kind, None, _install_hint(missing, requires), requires)]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:  # a library the module does not declare in `requires`
        missing_name = err.name or str(err)
        reason = f"needs the Python package {missing_name!r} (not in its requires); pip install it"
        return [RegistryEntry(kind, None, reason, requires)]
    return [
        RegistryEntry(value.kind, value, requires=dict(value.requires))
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Connector)
        and value is not Connector
        and value.__module__ == module.__name__
        and getattr(value, "kind", None)
    ]


def declared_requires(module_name: str) -> dict[str, str]:
    """The literal ``requires = {...}`` of the connector classes in a module, without importing
    it."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return {}
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            target, value = _assignment(statement)
            if target == "requires" and value is not None:
                found |= {str(k): str(v) for k, v in ast.literal_eval(value).items()}
    return found


def declared_kind(module_name: str) -> str | None:
    """The literal ``kind = "..."`` of the connector class in a module, without importing it:
    an unavailable connector is listed under the ``type`` a config names it by."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                target, value = _assignment(statement)
                if target == "kind" and isinstance(value, ast.Constant):
                    return str(value.value)
    return None


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None


def _installed(import_name: str) -> bool:
    try:
        return importlib.util.find_spec(import_name) is not None
    except (ImportError, ValueError):
        return False


def _install_hint(missing: list[str], requires: Mapping[str, str]) -> str:
    extras = ",".join(dict.fromkeys(requires[name] for name in missing))
    return f"needs {', '.join(missing)}: pip install '{DISTRIBUTION}[{extras}]'"
