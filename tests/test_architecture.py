"""The layers, enforced: every module imports, no import cycle, no import across a layer.

The graph is read from the source (every ``import``, at any depth, TYPE_CHECKING blocks included:
an import hidden from the runtime to dodge a cycle is still a cycle), and rules are checked on
what each module *reaches*, not only what it names: storage importing a module that imports Slack
reaches Slack. docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "connectors")

LEAVES = {
    "monitor.models",
    "monitor.errors",
    "monitor.clock",
    "monitor.brand",
    "monitor.health",
    "monitor.settings_base",
    "monitor.text",
    "monitor.sanitize",
    "monitor.metrics",
    "monitor.systemd_notify",
    "monitor.frozen",
}
"""Import nothing of ours but other leaves: every layer may use them."""
CORE = {
    "monitor.pipeline",
    "monitor.sources",
    "monitor.delivery",
    "monitor.notify",
    "monitor.learning",
    "monitor.replay",
    "monitor.silence",
    "monitor.scheduling",
}
COMPOSITION_ROOTS = ("monitor.daemon", "monitor.cli", "monitor.__main__")
"""The daemon wires everything; the cli package (and `python -m monitor`) knows argv."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module → the project modules it imports directly."""
    known = modules()
    return {
        name: frozenset(target for target in _imports(name, path) if target in known) - {name}
        for name, path in known.items()
    }


@cache
def reaches(name: str) -> frozenset[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        for target in graph()[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(seen - {name})


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _composition(module: str) -> bool:
    return _in(module, *COMPOSITION_ROOTS)


def _layer_violations(module: str) -> list[str]:
    """What `module` reaches that its layer must not (empty when it keeps to its layer)."""
    reached = reaches(module)
    forbidden: set[str] = set()
    if module in LEAVES:
        forbidden = {m for m in reached if m not in LEAVES}
    elif module in CORE:
        forbidden = {m for m in reached if _in(m, "monitor.slack", "monitor.config")}
    elif _in(module, "monitor.storage"):
        forbidden = {m for m in reached if _in(m, "monitor.slack", "monitor.classifier")}
    elif _in(module, "monitor.classifier"):
        forbidden = {m for m in reached if _in(m, "monitor.storage", "monitor.slack", *CORE)}
    elif _in(module, "connectors"):
        forbidden = {m for m in reached if _in(m, "monitor") and m not in LEAVES}
    elif _in(module, "monitor.web"):  # an adapter beside slack/: core, storage, leaves
        forbidden = {m for m in reached if _in(m, "monitor.slack", "monitor.config")}
    if not _composition(module):
        forbidden |= {m for m in reached if _composition(m)}
    return sorted(forbidden)


@pytest.mark.parametrize("module", sorted(set(modules()) - {"monitor.__main__"}))  # runs the CLI
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_there_is_no_import_cycle() -> None:
    cycles = sorted(name for name in modules() if name in reaches(name))
    assert not cycles, f"these modules import themselves through others: {cycles}"


@pytest.mark.parametrize("module", sorted(modules()))
def test_each_module_keeps_to_its_layer(module: str) -> None:
    assert _layer_violations(module) == [], (
        f"{module} reaches modules its layer must not import; see docs/architecture.md"
    )


def test_only_the_daemon_wires_slack_into_the_core() -> None:
    """The core runs with any notifier; only the composition root chooses Slack."""
    importers = sorted(
        name
        for name, targets in graph().items()
        if not _in(name, "monitor.slack")
        and not _composition(name)
        and any(_in(t, "monitor.slack") for t in targets)
        and name != "monitor.config"  # it assembles [slack] with the other tables
    )
    assert importers == []


@pytest.mark.parametrize(
    ("module", "reached", "violates"),
    [
        ("monitor.storage.posts", {"monitor.slack.sink"}, True),
        ("monitor.pipeline", {"monitor.config"}, True),
        ("connectors.x", {"monitor.errors", "monitor.models"}, False),
        ("connectors.x", {"monitor.storage.posts"}, True),
        ("monitor.models", {"monitor.errors"}, False),
        ("monitor.models", {"monitor.pipeline"}, True),
        ("monitor.classifier.scorer", {"monitor.cli"}, True),
        ("monitor.storage.posts", {"monitor.cli.common"}, True),
        ("monitor.cli.operate", {"monitor.daemon", "monitor.slack.sink"}, False),
        ("monitor.web.ops", {"monitor.sources", "monitor.storage.outbox"}, False),
        ("monitor.web.ops", {"monitor.slack.sink"}, True),
        ("monitor.web.app", {"monitor.daemon"}, True),
        ("monitor.metrics", {"monitor.storage.outbox"}, True),
    ],
)
def test_the_rules_catch_a_crossing(
    module: str, reached: set[str], violates: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker itself, on made-up graphs: it must see a crossing when there is one."""
    monkeypatch.setattr(
        "tests.test_architecture.reaches", lambda name: frozenset(reached if name == module else ())
    )
    assert bool(_layer_violations(module)) is violates
