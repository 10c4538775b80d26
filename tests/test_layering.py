"""Data flows one way: parse -> models -> feeds/compose -> deliver; cli and schedule on top."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "newsletter"
TOP = {"cli", "schedule"}  # nothing below imports these
# Pure stages: they take values and return values, and never reach for I/O-stage modules.
PURE = {"models", "cleaning", "parse_entry", "parse_markdown", "parse_jsonl", "feeds", "site",
        "budget", "pieces", "views", "message", "categories", "describe", "crontime"}
IO_STAGES = {"state", "transport", "delivery", "outgoing", "pipeline", "writer", "serve",
             "watch", "status"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "newsletter."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("newsletter."))
    return found


def modules() -> dict[str, set[str]]:
    return {p.stem: imports_of(p) for p in PACKAGE.glob("*.py")}


def test_nothing_imports_the_command_line_or_the_scheduler() -> None:
    for name, imported in modules().items():
        allowed = {"schedule"} if name == "cli" else set()
        assert not (imported & TOP) - allowed, f"{name} imports {imported & TOP}"


def test_pure_stages_do_not_import_io_stages() -> None:
    graph = modules()
    assert set(graph) >= PURE, "a module named in PURE no longer exists"
    for name in PURE:
        assert not graph[name] & IO_STAGES, f"{name} imports {graph[name] & IO_STAGES}"


def test_no_module_named_like_the_stdlib_email_package() -> None:
    assert not (PACKAGE / "email.py").exists()
