"""Cutting a once-rendered email into named pieces at mark() comments, and filling placeholders."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from newsletter.errors import ConfigError

# Every piece a template must mark, in this order (keyed ones once per section or paper).
REQUIRED = ("chips", "head_end", "empty", "foot", "unsub", "unsub_end")
KEYED = ("chip", "chip_sep", "sec", "full", "title", "more")


@dataclass(frozen=True, slots=True)
class Marker:
    """Per-digest random names for marks and placeholders: digest text cannot forge them."""

    secret: str

    @classmethod
    def new(cls) -> Marker:
        return cls(secrets.token_hex(8))

    def mark(self, kind: str, key: object = "") -> Markup:
        return Markup(f"<!--M{self.secret}:{kind}:{key}-->")

    def token(self, name: str) -> str:
        """A placeholder that survives autoescaping and premailer unchanged."""
        return f"T{self.secret}{name}T"

    def split(self, rendered: str, *, template: str) -> dict[str, str]:
        """Pieces by "kind" or "kind:key"; the text before the first mark is "start"."""
        parts = re.split(rf"<!--M{self.secret}:(\w+):(\d*)-->", rendered)
        pieces = {"start": parts[0]}
        for i in range(1, len(parts), 3):
            kind, key, body = parts[i], parts[i + 1], parts[i + 2]
            pieces[f"{kind}:{key}" if key else kind] = body
        missing = [kind for kind in REQUIRED if kind not in pieces]
        if missing:
            raise ConfigError(
                f"template {template}: mark({missing[0]!r}) is missing; a template that replaces "
                "a built-in one must keep every mark() of the built-in, in the same order"
            )
        return pieces

    def fill(self, piece: str, values: Mapping[str, str]) -> str:
        """`piece` with every placeholder replaced by its value (already escaped for the part)."""
        if self.secret not in piece:
            return piece
        return re.sub(rf"T{self.secret}(\w+?)T", lambda m: values[m[1]], piece)

    def probe(self, piece: str) -> str:
        """`piece` as long as it will be once filled: counts become 4 digits, texts vanish
        (their size is added where they are known)."""
        if self.secret not in piece:
            return piece
        return re.sub(
            rf"T{self.secret}(\w+?)T",
            lambda m: "9999" if m[1] == "total" or m[1][0] in "cm" else "",
            piece,
        )
