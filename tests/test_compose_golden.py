"""Golden files for the example digest: the email (HTML, text) and the day page.

Regenerate with NEWSLETTER_REGEN_GOLDEN=1 and review the diff; otherwise any difference fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import EXAMPLES

from newsletter.compose import render_digest_files
from newsletter.config import Settings, SiteSettings
from newsletter.parse import read_digest
from newsletter.templating import make_environment

GOLDEN = Path(__file__).parent / "golden" / "email"
SETTINGS = Settings(site=SiteSettings(title="arXiv digest", base_url="https://example.org/arxiv/"))
NAMES = {
    "email/2025-06-04.html": "2025-06-04.html",
    "email/2025-06-04.txt": "2025-06-04.txt",
    "days/2025-06-04.html": "day-2025-06-04.html",
}


@pytest.mark.parametrize("key", sorted(NAMES))
def test_golden(key: str) -> None:
    digest = read_digest(EXAMPLES / "2025-06-04.md")
    files = render_digest_files(digest, SETTINGS, env=make_environment())
    golden = GOLDEN / NAMES[key]
    if os.environ.get("NEWSLETTER_REGEN_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(files[key])
    assert golden.is_file(), f"{golden} missing: run with NEWSLETTER_REGEN_GOLDEN=1"
    assert files[key].decode() == golden.read_text(encoding="utf-8")


def test_rendering_is_deterministic() -> None:
    digest = read_digest(EXAMPLES / "2025-06-04.md")
    first = render_digest_files(digest, SETTINGS, env=make_environment())
    second = render_digest_files(digest, SETTINGS, env=make_environment())
    assert first == second
