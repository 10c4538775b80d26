"""Render an email and a day page with headless Chromium: light and dark, 600 and 375 px wide.

Not part of CI. Needs the Debian packages `chromium` and `fonts-noto-cjk`.
Usage: .venv/bin/python scripts/screenshot.py DIGEST [OUT_DIR]   (default OUT_DIR: ./shots)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from newsletter.compose import render_digest_files
from newsletter.config import Settings, SiteSettings
from newsletter.parse import read_digest
from newsletter.templating import make_environment

WIDTHS = (600, 375)
MODES = {"light": [], "dark": ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]}


def shoot(browser: str, page: Path, png: Path, *, width: int, extra: list[str]) -> None:
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--hide-scrollbars", *extra, f"--screenshot={png}",
         f"--window-size={width},2400", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    digest = read_digest(Path(argv[0]))
    out = Path(argv[1]) if len(argv) > 1 else Path("shots")
    out.mkdir(parents=True, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: apt-get install chromium fonts-noto-cjk", file=sys.stderr)
        return 1
    settings = Settings(site=SiteSettings(base_url="https://example.org/arxiv/"))
    files = render_digest_files(digest, settings, env=make_environment())
    with tempfile.TemporaryDirectory() as tmp:
        for key, data in files.items():
            if not key.endswith(".html"):
                continue
            page = Path(tmp) / key.replace("/", "-")
            page.write_bytes(data)
            kind = key.split("/")[0]
            for mode, extra in MODES.items():
                for width in WIDTHS:
                    png = out / f"{digest.name}-{kind}-{mode}-{width}.png"
                    shoot(browser, page, png, width=width, extra=extra)
                    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
