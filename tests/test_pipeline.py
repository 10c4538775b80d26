"""`generate` end to end with the real parser: window, bad digests, reruns, the CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import feedparser
import pytest
from conftest import EXAMPLES

from newsletter.cli import main
from newsletter.config import load_settings
from newsletter.errors import NewsletterError
from newsletter.pipeline import NO_DATE, generate

EXAMPLE = EXAMPLES / "2025-06-04.md"
FEED_FILES = {"all.atom.xml", "cs.CV.atom.xml", "cs.CL.atom.xml", "q-bio.NC.atom.xml",
              "math.NT.atom.xml", "feeds.opml", "index.html"}


def v3_digest(ids: list[str], *, category: str = "cs.LG") -> str:
    """A small upstream-V3 digest with one section."""
    entries = []
    for n, pid in enumerate(ids, 1):
        entries.append(
            f"### [{n}] [Paper {pid}](https://arxiv.org/abs/{pid})\n*Ada Lovelace,Alan Turing*\n\n"
            f"Main category: {category}\n\nTL;DR: Summary of {pid}.\n\n\n<details>\n"
            f"  <summary>Details</summary>\nMotivation: Why {pid}.\n\nMethod: How.\n\n"
            f"Result: What.\n\nConclusion: So.\n\nAbstract: Abstract of paper {pid} here.\n\n"
            "</details>\n")
    return (f"<div id=toc></div>\n\n# Table of Contents\n\n- [{category}](#{category}) "
            f"[Total: {len(ids)}]\n\n\n<div id='{category}'></div>\n\n# {category} [[Back]](#toc)"
            "\n\n" + "\n\n".join(entries))


def _settings(tmp_path: Path, **feeds: object):  # type: ignore[no-untyped-def]
    lines = ["[input]", 'dir = "inbox"', "[feeds]", 'out = "out"']
    lines += [f"{k} = {v}" for k, v in feeds.items()]
    config = tmp_path / "newsletter.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return load_settings(config)


def _names(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_example_digest_gives_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = generate(_settings(tmp_path), digests=[EXAMPLE], out=out)
    assert report.ok and report.bad == ()
    names = _names(out)
    assert names >= FEED_FILES
    assert {"email/2025-06-04.html", "email/2025-06-04.txt", "days/2025-06-04.html"} <= names
    assert report.papers == 12 and report.feeds == 5
    for name in names:
        if name.endswith(".atom.xml"):
            assert feedparser.parse((out / name).read_bytes()).bozo == 0, name
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files left


def test_second_run_rewrites_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    out = tmp_path / "out"
    generate(settings, digests=[EXAMPLE], out=out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    report = generate(settings, digests=[EXAMPLE], out=out)
    assert report.written == ()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_bad_digest_is_reported_and_the_good_ones_still_written(tmp_path: Path) -> None:
    bad = tmp_path / "2025-06-05.md"
    bad.write_text("just some notes, not a digest\n", encoding="utf-8")
    undated = tmp_path / "digest.md"
    undated.write_text(v3_digest(["2506.09999"]), encoding="utf-8")
    missing = tmp_path / "2025-06-06.md"
    out = tmp_path / "out"
    report = generate(_settings(tmp_path), digests=[bad, EXAMPLE, undated, missing], out=out)
    assert not report.ok
    assert [b.path for b in report.bad] == [bad, undated, missing]
    assert report.bad[1].reason == NO_DATE
    assert all(b.reason for b in report.bad)
    assert _names(out) >= FEED_FILES


def test_window_parses_only_the_newest_digests(tmp_path: Path) -> None:
    settings = _settings(tmp_path, days=2)
    inbox = tmp_path / "inbox"
    (inbox / "2025-06-01.md").write_text("broken, outside the window\n", encoding="utf-8")
    (inbox / "2025-06-02.md").write_text(v3_digest(["2506.00001"]), encoding="utf-8")
    (inbox / "2025-06-03.md").write_text(v3_digest(["2506.00001", "2506.00002"]),
                                         encoding="utf-8")
    (inbox / "2025-06-04.md").write_text(v3_digest(["2506.00003"], category="cs.AI"),
                                         encoding="utf-8")
    (inbox / "notes.md").write_text("undated: skipped with a warning\n", encoding="utf-8")
    report = generate(settings)
    assert report.ok
    assert [d.name for d in report.digests] == ["2025-06-03", "2025-06-04"]
    out = settings.feeds.out
    entries = feedparser.parse((out / "all.atom.xml").read_bytes()).entries
    assert [e.id for e in entries] == [f"https://arxiv.org/abs/2506.0000{i}" for i in (3, 1, 2)]
    assert entries[1].published.startswith("2025-06-03")  # 06-02 is outside the window
    assert _names(out) >= {"cs.AI.atom.xml", "cs.LG.atom.xml"}


def test_paper_reappearing_in_window_is_one_entry_with_first_date(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_entries=2)
    inbox = tmp_path / "inbox"
    (inbox / "2025-06-02.md").write_text(v3_digest(["2506.00001"]), encoding="utf-8")
    (inbox / "2025-06-03.md").write_text(v3_digest(["2506.00002", "2506.00001", "2506.00003"]),
                                         encoding="utf-8")
    generate(settings)
    entries = feedparser.parse((settings.feeds.out / "cs.LG.atom.xml").read_bytes()).entries
    assert [e.id[-5:] for e in entries] == ["00002", "00003"]  # capped at 2, newest first
    generate(settings.replace(feeds=settings.feeds.__class__(
        out=settings.feeds.out, days=7, max_entries=10)))
    entries = feedparser.parse((settings.feeds.out / "cs.LG.atom.xml").read_bytes()).entries
    assert [(e.id[-5:], e.published[:10]) for e in entries] == [
        ("00002", "2025-06-03"), ("00003", "2025-06-03"), ("00001", "2025-06-02")]


def test_empty_inbox_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError, match=r"no digest files matching '\*\.md'"):
        generate(_settings(tmp_path))


def test_only_bad_input_leaves_earlier_outputs_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    out = tmp_path / "out"
    generate(settings, digests=[EXAMPLE], out=out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "2025-06-07.md"
    bad.write_bytes(b"\x00\x01binary")
    report = generate(settings, digests=[bad], out=out)
    assert not report.ok and report.written == ()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cli_on_a_fresh_machine_writes_feeds_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO):
        assert main(["generate", str(EXAMPLE)]) == 0
    assert _names(tmp_path / "feeds") >= FEED_FILES
    wrote = [r for r in caplog.records if r.getMessage().startswith("wrote ")]
    assert len(wrote) == len(_names(tmp_path / "feeds"))
    assert [r for r in caplog.records if r.getMessage().startswith("generated ")]


def test_cli_exits_1_after_writing_the_good_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    undated = tmp_path / "notes.md"
    undated.write_text(v3_digest(["2506.00001"]), encoding="utf-8")
    assert main(["generate", str(EXAMPLE), str(undated), "-o", "public"]) == 1
    assert _names(tmp_path / "public") >= FEED_FILES
    err = capsys.readouterr().err
    assert f"error: {undated}: no date: name the file YYYY-MM-DD*.md" in err


def test_two_digests_with_the_same_name_do_not_overwrite_each_other(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / EXAMPLE.name
    other.parent.mkdir()
    other.write_text(v3_digest(["2506.07777"]), encoding="utf-8")
    out = tmp_path / "out"
    report = generate(_settings(tmp_path), digests=[EXAMPLE, other], out=out)
    assert [b.path for b in report.bad] == [other]
    assert "same name" in report.bad[0].reason
    assert [d.source for d in report.digests] == [str(EXAMPLE)]
    assert "2506.07777" not in (out / "email" / "2025-06-04.html").read_text(encoding="utf-8")


def test_rendering_in_a_process_pool_gives_the_same_bytes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    for day in range(1, 5):
        ids = [f"2506.{day:02d}{n:03d}" for n in range(3)]
        (tmp_path / "inbox" / f"2025-06-{day:02d}.md").write_text(v3_digest(ids), encoding="utf-8")
    paths = sorted((tmp_path / "inbox").glob("*.md"))
    alone = generate(settings, digests=paths, out=tmp_path / "alone", workers=1)
    pooled = generate(settings, digests=paths, out=tmp_path / "pooled", workers=2)
    assert alone.ok and pooled.ok
    files = _names(tmp_path / "alone")
    assert files == _names(tmp_path / "pooled")
    assert {f"days/2025-06-0{d}.html" for d in range(1, 5)} <= files
    for name in files:
        assert (tmp_path / "alone" / name).read_bytes() == (tmp_path / "pooled" / name).read_bytes()
