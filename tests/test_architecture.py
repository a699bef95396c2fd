"""The tree shows the architecture: three processes over one core, small modules, small functions."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from core import contract

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ("app", "jobs", "admin")
PACKAGES = ("core", *PROCESSES)
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def modules(*packages: str) -> list[Path]:
    """Every Python file of the given top-level packages."""
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """The top-level package names a module imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_process_packages_import_only_core_not_each_other() -> None:
    """No module of app/, jobs/ or admin/ imports another of those three packages."""
    crossings = [
        f"{path.relative_to(ROOT)} imports {other}"
        for path in modules(*PROCESSES)
        for other in imported_packages(path) & set(PROCESSES)
        if other != path.relative_to(ROOT).parts[0]
    ]
    assert crossings == []


def test_core_imports_none_of_the_processes() -> None:
    """core/ stands alone: it never reaches up into app/, jobs/ or admin/."""
    crossings = [
        f"{path.relative_to(ROOT)} imports {other}"
        for path in modules("core")
        for other in imported_packages(path) & set(PROCESSES)
    ]
    assert crossings == []


def test_no_module_over_the_line_budget() -> None:
    """Every module of core/, app/, jobs/ and admin/ stays under 300 lines."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in modules(*PACKAGES)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_over_sixty_lines() -> None:
    """No function or method of core/, app/, jobs/ or admin/ is longer than 60 lines."""
    long = []
    for path in modules(*PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


@pytest.mark.parametrize("dotted", contract.STORED_PATHS)
def test_every_stored_import_path_still_imports(dotted: str) -> None:
    """Each job, callback and maintenance path that Redis keeps with queued work resolves to a callable."""
    module_name, _, name = dotted.rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), name))


def test_importing_core_has_no_side_effects() -> None:
    """Importing every core module opens no connection and builds no bot (no module-level clients)."""
    for path in modules("core"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for stmt in tree.body
            if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.Expr)
            for node in ast.walk(stmt)
            if isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in {"from_url", "TeleBot", "Redis", "connect", "from_env"}
        ]
        assert calls == [], f"{path.name} calls a client factory at import time"
