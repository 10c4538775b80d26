"""The benchmark's synthetic digest writer: its output is a V3 file the real parser reads."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from conftest import ROOT

from newsletter.parse import parse_digest


def _load_synth() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_synth", ROOT / "bench" / "synth.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


synth = _load_synth()


def test_digest_parses_with_requested_entry_count() -> None:
    text = synth.digest_text(seed=3, papers=120, dup_rate=0.05)
    digest = parse_digest(text, source="2025-01-02.md")
    entries = len(re.findall(r"^### \[\d+\] ", text, flags=re.MULTILINE))
    totals = sum(int(n) for n in re.findall(r"\[Total: (\d+)\]", text))
    assert digest.layout == "v3"
    assert entries == totals == 120
    unique_ids = set(re.findall(r"https://arxiv\.org/abs/(\S+)\)$", text, flags=re.MULTILINE))
    assert len(unique_ids) < 120  # dup_rate=0.05 over 120 entries gives same-section duplicates
    assert len(digest.papers) == len(unique_ids)
    assert {p.id for p in digest.papers} == unique_ids
    assert all(p.tldr or p.abstract for p in digest.papers)
    assert len({p.category for p in digest.papers}) >= 5


def test_digest_is_byte_exact_v3() -> None:
    text = synth.digest_text(seed=1, papers=30)
    assert text.startswith("<div id=toc></div>\n\n# Table of Contents\n\n- [cs.")
    assert text.endswith("</details>\n")
    assert "\r" not in text
    assert text.count("</details>\n\n\n### [") + text.count("</details>\n\n\n<div id='") == 29
    first = text.split("\n### [1] ", 1)[1]
    assert "\nMain category: " in first and "\nTL;DR: " in first
    # hard-wrapped English abstract: several lines, none longer than 80 columns
    abstract = first.split("\nAbstract: ", 1)[1].split("\n\n</details>", 1)[0]
    assert abstract.count("\n") >= 3
    assert max(len(line) for line in abstract.split("\n")) <= 80


def test_deterministic_and_sized(tmp_path: Path) -> None:
    assert synth.digest_text(seed=5, papers=40) == synth.digest_text(seed=5, papers=40)
    assert synth.digest_text(seed=5, papers=40) != synth.digest_text(seed=6, papers=40)
    text = synth.digest_of_size(seed=2, target_bytes=300_000)
    assert 300_000 <= len(text.encode("utf-8")) <= 306_000
    assert len(parse_digest(text, source="2025-01-03.md").papers) > 50


def test_inbox_has_requested_days_and_papers(tmp_path: Path) -> None:
    paths = synth.write_inbox(tmp_path, seed=4, days=6, total_papers=300)
    assert [p.name for p in paths] == sorted(p.name for p in tmp_path.iterdir())
    assert len(paths) == 6
    entries = 0
    for path in paths:
        digest = parse_digest(path.read_text(encoding="utf-8"), source=str(path))
        assert digest.date is not None and digest.date.weekday() < 5
        entries += sum(int(n) for n in re.findall(r"\[Total: (\d+)\]", path.read_text("utf-8")))
    assert abs(entries - 300) <= 6
