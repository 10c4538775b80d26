"""`newsletter parse`: the JSON object of DESIGN.md, the human summary, exit codes and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsletter.cli import main
from newsletter.describe import summarize_digest
from newsletter.parse import read_digest

_PAPER_KEYS = [
    "id", "title", "url", "pdf_url", "authors", "category",
    "tldr", "motivation", "method", "result", "conclusion", "abstract",
]


def test_parse_json_matches_the_design(
    examples_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = str(examples_dir / "2025-06-04.md")
    assert main(["parse", "--json", source]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["source", "date", "layout", "papers", "problems"]
    assert (data["source"], data["date"], data["layout"]) == (source, "2025-06-04", "v3")
    assert len(data["papers"]) == 12
    assert all(list(paper) == _PAPER_KEYS for paper in data["papers"])
    first = data["papers"][0]
    assert first["authors"] == ["Lina Xu", "Marco Bertelli", "Haoran Qiu", "Sofia Almeida"]
    assert all(isinstance(p, str) and p.startswith(f"{source}: ") for p in data["problems"])


def test_parse_human_summary(examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(examples_dir / "2025-06-04.md")]) == 0
    out = capsys.readouterr().out
    assert "12 papers, layout v3, date 2025-06-04" in out
    assert "cs.CV" in out and "q-bio.NC" in out and "duplicate" in out


def test_zero_papers_exit_0_and_undated_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = tmp_path / "today.md"
    stub.write_text("# No New Papers Today\n\nNo new papers were found.")
    assert main(["parse", "--json", str(stub)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["date"], data["layout"], data["papers"]) == (None, "empty", [])
    assert any("no date" in p for p in data["problems"])
    digest = read_digest(stub)
    assert "0 papers, layout empty, date unknown" in summarize_digest(digest)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "no such file"), (b"\xff\xfe\x00bin", "binary"), (b"", "empty file")],
)
def test_unreadable_file_one_line_on_stderr_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, reason: str
) -> None:
    path = tmp_path / "2025-06-04.md"
    if content is not None:
        path.write_bytes(content)
    assert main(["parse", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().split("\n")
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: ") and reason in lines[0]
    assert "Traceback" not in captured.err
