"""Golden files: the example digest's feeds, OPML and index, byte for byte.

Regenerate with NEWSLETTER_REGEN_GOLDEN=1 and review the diff (`git diff tests/golden`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from newsletter.config import Settings, SiteSettings
from newsletter.parse import read_digest
from newsletter.pipeline import render_site
from newsletter.templating import make_environment

GOLDEN = ROOT / "tests" / "golden" / "feeds"
REGEN = os.environ.get("NEWSLETTER_REGEN_GOLDEN") == "1"
SETTINGS = Settings(site=SiteSettings(title="arXiv digest", base_url="https://example.org/feeds/"))


def _render() -> dict[str, bytes]:
    digest = read_digest(EXAMPLES / "2025-06-04.md")
    files, _ = render_site([digest], SETTINGS, env=make_environment())
    return files


def test_golden_files_match() -> None:
    files = _render()
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.iterdir():
            old.unlink()
        for name, data in files.items():
            (GOLDEN / name).write_bytes(data)
    expected = {p.name: p.read_bytes() for p in GOLDEN.iterdir()}
    assert sorted(files) == sorted(expected), "run with NEWSLETTER_REGEN_GOLDEN=1 and review"
    for name, data in files.items():
        if data != expected[name]:
            pytest.fail(f"{name} differs from tests/golden/feeds/{name}; if the change is "
                        "intended, regenerate with NEWSLETTER_REGEN_GOLDEN=1 and review the diff")


def test_rendering_is_deterministic() -> None:
    assert _render() == _render()


def test_golden_folder_is_not_empty() -> None:
    names = {p.name for p in Path(GOLDEN).iterdir()}
    assert {"all.atom.xml", "cs.CV.atom.xml", "feeds.opml", "index.html"} <= names
