"""`serve`: a small static HTTP server for the output folder, with caching headers, no traversal."""

from __future__ import annotations

import email.utils
import http.server
import logging
import mimetypes
import posixpath
import socketserver
from pathlib import Path
from urllib.parse import unquote, urlsplit

from newsletter.errors import NewsletterError

log = logging.getLogger(__name__)

CONTENT_TYPES: dict[str, str] = {
    ".atom.xml": "application/atom+xml; charset=utf-8",
    ".opml": "text/x-opml",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    root: Path


def content_type(name: str) -> str:
    """The Content-Type header for a file name (feeds and OPML get their own types)."""
    for suffix, ctype in CONTENT_TYPES.items():
        if name.endswith(suffix):
            return ctype
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def resolve_request(root: Path, raw_path: str) -> Path | None:
    """The file under `root` that a request path names, or None (traversal, hidden, missing).

    Checked on the raw and the decoded path: no `..` segment, no encoded slash or backslash,
    no NUL, no hidden file; folders map to their index.html (there are no listings).
    """
    path = urlsplit(raw_path).path
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path:
        return None
    decoded = unquote(path, errors="strict") if "%" in path else path
    if "\x00" in decoded or "\\" in decoded or not decoded.startswith("/"):
        return None
    parts = [p for p in decoded.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    if posixpath.normpath(decoded) != decoded.rstrip("/") and decoded != "/":
        return None
    base = root.resolve()
    target = base.joinpath(*parts)
    if target.is_dir():
        target = target / "index.html"
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_file() or not real.is_relative_to(base):
        return None
    return real


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    server_version = "newsletter"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        try:
            path = resolve_request(self.server.root, self.path)
        except UnicodeDecodeError:
            path = None
        if path is None:
            self.send_error(404, "Not Found")
            return
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        if self._not_modified(etag, int(stat.st_mtime)):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type(path.name))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110)
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                when = email.utils.parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
            return when.tzinfo is not None and mtime <= int(when.timestamp())
        return False

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(root: Path, *, host: str = "127.0.0.1", port: int = 8000) -> _Server:
    """A threading HTTP server for `root` (port 0 picks a free port); call serve_forever()."""
    if not root.is_dir():
        raise NewsletterError(f"{root}: no such folder; run `newsletter generate` first or pass -o")
    try:
        server = _Server((host, port), _Handler)
    except OSError as exc:
        raise NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    server.root = root
    return server


__all__ = ["CONTENT_TYPES", "content_type", "make_server", "resolve_request"]
