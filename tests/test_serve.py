"""`serve` on a real socket: content types, caching headers, 304, no traversal, no listing."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.serve import make_server


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    out = tmp_path / "out"
    (out / "days").mkdir(parents=True)
    (out / "cs.CV.atom.xml").write_bytes(b"<feed/>")
    (out / "feeds.opml").write_bytes(b"<opml/>")
    (out / "index.html").write_bytes(b"<!DOCTYPE html><p>hi</p>")
    (out / "days" / "2025-06-04.html").write_bytes(b"<p>day</p>")
    (out / ".hidden").write_bytes(b"secret")
    (tmp_path / "outside.txt").write_bytes(b"secret outside")
    server = make_server(out, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield str(host), int(port), out
    server.shutdown()
    server.server_close()
    thread.join()


def _get(site: tuple[str, int, Path], path: str,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(site[0], site[1], timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_feed_served_with_type_and_validators_then_304(site: tuple[str, int, Path]) -> None:
    status, headers, body = _get(site, "/cs.CV.atom.xml")
    assert status == 200
    assert body == b"<feed/>"
    assert headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert headers["etag"] and headers["last-modified"]
    status, again, body = _get(site, "/cs.CV.atom.xml", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    assert again["etag"] == headers["etag"]
    status, _, body = _get(site, "/cs.CV.atom.xml",
                           {"If-Modified-Since": headers["last-modified"]})
    assert (status, body) == (304, b"")
    status, _, _ = _get(site, "/cs.CV.atom.xml", {"If-None-Match": '"other"'})
    assert status == 200
    status, _, _ = _get(site, "/cs.CV.atom.xml",
                        {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert status == 200


def test_changed_file_gets_a_new_etag(site: tuple[str, int, Path]) -> None:
    _, first, _ = _get(site, "/feeds.opml")
    assert first["content-type"] == "text/x-opml"
    (site[2] / "feeds.opml").write_bytes(b"<opml>changed</opml>")
    status, second, body = _get(site, "/feeds.opml", {"If-None-Match": first["etag"]})
    assert status == 200 and body == b"<opml>changed</opml>"
    assert second["etag"] != first["etag"]


def test_root_and_subfolder_pages(site: tuple[str, int, Path]) -> None:
    status, headers, body = _get(site, "/")
    assert status == 200 and body.startswith(b"<!DOCTYPE html>")
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert _get(site, "/days/2025-06-04.html")[0] == 200
    assert _get(site, "/index.html?x=1")[0] == 200


@pytest.mark.parametrize("path", [
    "/../outside.txt", "/days/../../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E/outside.txt",
    "/days/%2e%2e/%2e%2e/outside.txt", "/..%2foutside.txt", "/..%5coutside.txt",
    "/days%2f2025-06-04.html", "/.hidden", "/days/", "/missing.xml", "/%00", "/%ff",
    "//outside.txt", "/days//2025-06-04.html",
])
def test_traversal_hidden_and_listing_are_404(site: tuple[str, int, Path], path: str) -> None:
    status, _, body = _get(site, path)
    assert status == 404
    assert b"secret" not in body
    assert b"2025-06-04.html" not in body


def test_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError, match="newsletter generate"):
        make_server(tmp_path / "nope", port=0)
