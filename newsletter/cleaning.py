"""Text hygiene for parsed digests: XML-illegal characters, LLM failure texts, arXiv ids, URLs."""

from __future__ import annotations

import re

# C0 controls except TAB/LF/CR (CR is handled separately), lone surrogates, U+FFFE/U+FFFF.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ILLEGAL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])  # the C0 part, as UTF-8

# An arXiv id in a URL: new style (2506.02013) or old style (math/0601001, math.AG/0601001).
_ARXIV_URL = re.compile(
    r"arxiv\.org/(?:abs|pdf)/+(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Za-z-]{2,})?/\d{7})(?:v\d+)?",
    re.IGNORECASE,
)
_BARE_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Za-z-]{2,})?/\d{7})(?:v\d+)?$")
_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?$")
_PLACEHOLDER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")

# Exact LLM failure values (FORMAT.md §2.2), compared after stripping whitespace.
_FAILURE_TEXTS = frozenset(
    {
        "error",
        "none",
        "n/a",
        "null",
        "summary generation failed",
        "motivation analysis unavailable",
        "method extraction failed",
        "result analysis unavailable",
        "conclusion extraction failed",
        "processing failed",
        "not mentioned in abstract",
        "request timed out.",
        "request timed out",
        "this content has not passed the compliance test and has been hidden.",
        "错误：ai分析失败。",
        "error: failed to generate summary.",
        "error: api quota exceeded",
        "达到api配额限制，请明天再试",
        "请联系管理员或等待明天api配额重置。",
    }
)
# Prefixes of failure values: raw exceptions and prompt text the LLM echoed back.
_FAILURE_PREFIXES = (
    "error code:",
    "a one-sentence summary of the paper",
    "what problem is the paper trying to solve?",
    "how did the paper solve the problem?",
    "what are the main results of the paper?",
    "what are the main conclusions of the paper?",
)
_QUOTA_MARKERS = ("api quota", "api配额", "rate limit exceeded")
_FAILURE_MAX = 300  # longer (stripped) values are never failure texts


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone
    surrogates, U+FFFE/U+FFFF): lxml refuses them, feed readers choke on them."""
    return _ILLEGAL.sub("", text)


def flatten(text: str) -> str:
    """`text` on one line: every run of whitespace or control characters (C0, C1, line and
    paragraph separators) becomes one space. For header values and one-line display."""
    return " ".join(_CONTROL.sub(" ", text).split())


def clean_text(text: str) -> str:
    """`text` with XML 1.0-illegal characters removed and CR turned into a space."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", " ")
    return xml_safe(text)


def utf8_is_clean(data: bytes) -> bool:
    """True when `data`, valid UTF-8, decodes to a text `clean_text` would leave unchanged.

    Why: `clean_text`'s regex scan of a large digest costs about as much as reading the file.
    Checking the bytes is several times cheaper: no CR, no C0 control (`bytes.translate`
    deletes them in C), no UTF-8 form of U+FFFE/U+FFFF; strict UTF-8 holds no lone surrogates.
    """
    return (
        b"\r" not in data
        and b"\xef\xbf\xbe" not in data
        and b"\xef\xbf\xbf" not in data
        and len(data.translate(None, _ILLEGAL_BYTES)) == len(data)
    )


def one_line(text: str) -> str:
    """Already-clean `text` whitespace-normalised to a single line."""
    return " ".join(text.split())


def is_failure_text(value: str) -> bool:
    """True when `value` is an LLM failure/placeholder text rather than a real summary."""
    if len(value) > _FAILURE_MAX and not value[0].isspace() and not value[-1].isspace():
        return False  # fast path: nothing to strip, so too long to be a failure text
    text = value.strip()
    if not text or len(text) > _FAILURE_MAX:
        return False
    low = text.lower()
    if low in _FAILURE_TEXTS or low.startswith(_FAILURE_PREFIXES):
        return True
    if text[0] == "{":
        return bool(_PLACEHOLDER.match(text))
    if len(text) < 120:
        for marker in _QUOTA_MARKERS:  # a plain loop: any() over a generator costs more here
            if marker in low:
                return True
    return False


def arxiv_id_from_url(url: str) -> str | None:
    """The versionless arXiv id in an abs/pdf URL (http or https), or None."""
    match = _ARXIV_URL.search(url)
    return match[1] if match else None


def normalise_id(value: str) -> str | None:
    """A bare arXiv id (`2506.02013v2`, `math/0601001`) without its version, or None."""
    match = _BARE_ID.match(value.strip())
    return match[1] if match else None


def abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


def is_category(code: str) -> bool:
    """True for arXiv category codes (`cs.CV`, `hep-th`, `cond-mat.str-el`), not MSC/ACM codes."""
    return bool(_CATEGORY.match(code))


def split_authors(line: str) -> tuple[str, ...]:
    """Author names from an authors line without its outer `*`: `A,B`, `A, B` or `['A', 'B']`."""
    text = line.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        names = (name.strip().strip("'\"") for name in text.split(","))
        return tuple(cleaned for name in names if (cleaned := one_line(name)))
    return _split_plain_authors(text)


def _split_plain_authors(text: str) -> tuple[str, ...]:
    """`one_line` of each comma-separated name, empty ones dropped, with three calls in all.

    Why not one `one_line` per name: this runs once per paper on lines of dozens of names.
    Normalising the whole line first is the same thing, since whitespace runs never cross a
    comma: each piece is then its name with at most one space on either side, which the two
    replaces remove.
    """
    pieces = one_line(text).replace(", ", ",").replace(" ,", ",").split(",")
    return tuple(filter(None, pieces))


def join_paragraphs(lines: list[str]) -> str:
    """Hard-wrapped (clean) lines joined with a space; blank lines become paragraph breaks."""
    stripped = list(map(str.strip, lines))
    while stripped and not stripped[-1]:
        stripped.pop()
    if "" not in stripped:  # fast path (most abstracts): one paragraph, no per-line loop
        return " ".join(stripped)
    paragraphs: list[str] = []
    current: list[str] = []
    for line in stripped:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def join_field(lines: list[str]) -> str:
    """A multi-line AI field from clean lines: lines kept (lists stay lists), outer blanks cut."""
    if len(lines) == 1:
        return lines[0].strip()
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = 0
    while start < end and not lines[start].strip():
        start += 1
    if end - start == 1:
        return lines[start].strip()
    return "\n".join(line.rstrip() for line in lines[start:end])
