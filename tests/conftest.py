"""Shared fixtures: where the project root, the examples and the shared corpus are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_files(*suffixes: str) -> list[Path]:
    """Every digest file in ../shared/corpus (empty when the folder is absent)."""
    if not CORPUS.is_dir():
        return []
    wanted = suffixes or (".md", ".jsonl")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in wanted)


def corpus_params(*suffixes: str) -> list[object]:
    """pytest params over the corpus files, or one skipped param when the corpus is absent."""
    files = corpus_files(*suffixes)
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus not present"))]
    return [pytest.param(p, id=str(p.relative_to(CORPUS))) for p in files]


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
