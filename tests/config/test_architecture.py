"""The architecture holds: layers (import-linter's contracts in pyproject.toml), no import
hidden inside a function, and every domain event handled (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from importlinter.cli import lint_imports

from config.events import Event, subscriptions

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "alignment", "leads", "campaigns", "metrics")


def _modules() -> list[tuple[str, Path]]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append((module.removesuffix(".__init__"), path))
    return found


def _imports_inside_functions(path: Path) -> list[tuple[int, str, str]]:
    """(line, enclosing function, imported module) for each import inside a function."""
    found: list[tuple[int, str, str]] = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                walk(child, child.name)
                continue
            if function is not None and isinstance(child, ast.Import | ast.ImportFrom):
                names = (
                    [alias.name for alias in child.names]
                    if isinstance(child, ast.Import)
                    else [child.module or ""]
                )
                found.extend((child.lineno, function, name) for name in names)
            walk(child, function)

    walk(ast.parse(path.read_text(), str(path)), None)
    return found


def test_no_import_inside_a_function_crosses_apps():
    crossing = [
        f"{module}:{line} ({function}) imports {name}"
        for module, path in _modules()
        for line, function, name in _imports_inside_functions(path)
        if name.split(".")[0] in APPS and name.split(".")[0] != module.split(".")[0]
    ]
    assert crossing == []


def test_project_code_is_imported_in_a_function_only_by_an_app_ready():
    """Django imports app code in AppConfig.ready() (the registry must be ready first);
    anywhere else an import inside a function hides a cycle."""
    hidden = [
        f"{module}:{line} ({function}) imports {name}"
        for module, path in _modules()
        for line, function, name in _imports_inside_functions(path)
        if name.split(".")[0] in APPS and not (module.endswith(".apps") and function == "ready")
    ]
    assert hidden == []


def test_the_import_contracts_are_kept():
    """pyproject.toml's contracts: the layers of apps and topics, and inside every app the
    domain (services, selectors, events, models) never imports pages, API, tasks or
    handlers. `make test` runs `lint-imports` too; this says which contract broke."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def _event_types() -> set[type[Event]]:
    found: set[type[Event]] = set()
    pending = list(Event.__subclasses__())
    while pending:
        kind = pending.pop()
        if kind.__module__.split(".")[0] in APPS:  # not the tests' own
            found.add(kind)
        pending.extend(kind.__subclasses__())
    return found


def test_every_domain_event_has_a_subscriber():
    """An event nobody handles is dead code; every published one reaches a handler."""
    handled = {kind for kind, found in subscriptions().items() if found}
    unhandled = sorted(kind.__qualname__ for kind in _event_types() - handled)
    assert _event_types(), "the apps' events modules were not imported"
    assert unhandled == []


def test_handlers_live_above_their_publishers():
    """Handlers sit in `handlers` modules, never in the services that publish."""
    for kind, found in subscriptions().items():
        if kind.__module__.startswith("tests."):
            continue  # the dispatcher's own tests
        for subscription in found:
            assert subscription.handler.__module__.endswith(".handlers"), subscription.name
            assert kind.__module__.endswith(".events"), kind


def test_docs_architecture_is_drawn_from_the_current_code():
    """docs/architecture.md's picture and event table come from tools/architecture.py."""
    result = subprocess.run(
        [sys.executable, "tools/architecture.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
