"""The typed settings object: defaults, the TOML loader and its validation, loaded once."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsletter.errors import ConfigError

DEFAULT_CONFIG_NAME = "newsletter.toml"
SECURITY_CHOICES = ("starttls", "ssl", "none")


def _opt(default: Any, doc: str, **kw: Any) -> Any:
    """A settings field with its documentation beside its default."""
    return field(default=default, metadata={"doc": doc, **kw})


@dataclass(frozen=True, slots=True)
class SiteSettings:
    title: str = _opt("arXiv digest", "Title of the feeds, the index page and the email.")
    base_url: str = _opt(
        "http://127.0.0.1:8000/",
        "Public URL where the output folder is served; feed ids, self links and the OPML use it.",
    )
    language: str = _opt("en", "Language tag for xml:lang and <html lang> (e.g. en, zh-CN).")


@dataclass(frozen=True, slots=True)
class InputSettings:
    dir: Path = _opt(Path("inbox"), "Folder the digest files land in (relative to the config).")
    pattern: str = _opt("*.md", "Glob of digest file names in input.dir (e.g. '*.md', '*.jsonl').")


@dataclass(frozen=True, slots=True)
class FeedsSettings:
    out: Path = _opt(Path("feeds"), "Output folder for feeds, pages and email files.")
    days: int = _opt(7, "How many of the newest digests the feeds cover.", minimum=1)
    max_entries: int = _opt(500, "At most this many entries per feed, newest first.", minimum=1)


@dataclass(frozen=True, slots=True)
class EmailSettings:
    from_addr: str = _opt(
        "arXiv digest <newsletter@localhost>", "Sender address (From).", key="from"
    )
    reply_to: str = _opt("", "Optional Reply-To address.")
    subject: str = _opt(
        "arXiv digest {date} · {papers}",
        "Subject; fills in {date}, {count} (a number), {papers} ('1 paper', '12 papers'), "
        "{title} (site.title) and {name} (the digest's file name).",
    )
    max_bytes: int = _opt(
        95_000, "Budget for the encoded message (Gmail clips at ~102 KB).", minimum=20_000
    )
    templates: Path | None = _opt(
        None, "Folder whose files override the built-in templates (same file names)."
    )
    send_empty: bool = _opt(False, "Mail subscribers whose filter matches nothing that day.")
    unsubscribe_url: str = _opt(
        "", "https URL for one-click unsubscribe; ?token=... is appended per recipient."
    )
    unsubscribe_mailto: str = _opt(
        "", "Address for mailto: unsubscribe requests (default: the sender address)."
    )


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = _opt("localhost", "SMTP server host name.")
    port: int = _opt(587, "SMTP port (587 for starttls, 465 for ssl, 25 for none).", minimum=1)
    security: str = _opt("starttls", "Connection security.", choices=SECURITY_CHOICES)
    username: str = _opt("", "Login name; empty means no login.")
    password_env: str = _opt(
        "NEWSLETTER_SMTP_PASSWORD", "Name of the environment variable that holds the password."
    )
    timeout: float = _opt(30.0, "Seconds to wait for the server before giving up.", minimum=1)
    max_per_minute: int = _opt(0, "Send at most this many messages a minute (0 = no limit).")
    retries: int = _opt(3, "Retries for a temporary failure (4xx, dropped connection).")


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    send_at: str = _opt("0 8 * * *", "Cron expression (5 fields) for the daily send.")
    timezone: str = _opt("", "IANA time zone of send_at (empty = the machine's).")
    poll_seconds: float = _opt(60.0, "How often input.dir is scanned for new files.", minimum=0.1)
    settle_seconds: float = _opt(
        10.0, "A file counts once its size and mtime are unchanged this long.", minimum=0
    )
    send_on_arrival: bool = _opt(False, "Mail a new digest as soon as it is picked up.")
    max_age_days: int = _opt(
        2, "The scheduler does not mail digests older than this (0 = no limit).", minimum=0
    )
    retry_seconds: float = _opt(
        600.0, "After a failed send (SMTP down), try the unsent messages again after this many "
        "seconds.", minimum=1,
    )


@dataclass(frozen=True, slots=True)
class StateSettings:
    path: Path = _opt(Path("newsletter.sqlite3"), "SQLite state database (deliveries, digests).")


@dataclass(frozen=True, slots=True)
class Subscriber:
    email: str
    name: str = ""
    categories: tuple[str, ...] = ()  # globs such as "cs.*"; empty = every category
    keywords: tuple[str, ...] = ()  # case-insensitive; empty = every paper


@dataclass(frozen=True, slots=True)
class Settings:
    site: SiteSettings = field(default_factory=SiteSettings)
    input: InputSettings = field(default_factory=InputSettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    state: StateSettings = field(default_factory=StateSettings)
    subscribers: tuple[Subscriber, ...] = ()
    subscribers_file: Path | None = None
    source: Path | None = None  # the config file, None when running on defaults

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


SECTIONS: dict[str, type] = {
    "site": SiteSettings,
    "input": InputSettings,
    "feeds": FeedsSettings,
    "email": EmailSettings,
    "smtp": SmtpSettings,
    "schedule": ScheduleSettings,
    "state": StateSettings,
}
TOP_LEVEL_KEYS = (*SECTIONS, "subscribers", "subscribers_file")
SUBSCRIBER_KEYS = ("email", "name", "categories", "keywords")


def toml_key(f: dataclasses.Field[Any]) -> str:
    key: str = f.metadata.get("key", f.name)
    return key


def load_settings(path: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Load settings from `path`, or ./newsletter.toml if it exists, or the defaults.

    Relative paths resolve against the config file's folder (or `cwd` on defaults).
    """
    cwd = cwd or Path.cwd()
    if path is None:
        candidate = cwd / DEFAULT_CONFIG_NAME
        if not candidate.is_file():
            return _resolve_paths(Settings(), cwd)
        path = candidate
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    settings = settings_from_dict(data, source=str(path)).replace(source=path)
    return _resolve_paths(settings, path.parent)


def settings_from_dict(data: dict[str, Any], *, source: str = "<config>") -> Settings:
    """Build Settings from parsed TOML, naming the key, the file and the valid choices on error."""
    _check_keys(data, TOP_LEVEL_KEYS, where="", source=source)
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        sections[name] = _build_section(cls, table, prefix=name, source=source)
    subscribers = tuple(
        _build_subscriber(item, index, source) for index, item in enumerate(_list_of_tables(data))
    )
    sub_file = data.get("subscribers_file")
    if sub_file is not None and not isinstance(sub_file, str):
        raise ConfigError(f"{source}: subscribers_file must be a string (a path)")
    settings = Settings(
        **sections,
        subscribers=subscribers,
        subscribers_file=Path(sub_file) if sub_file else None,
    )
    _validate(settings, source)
    return settings


def _list_of_tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    items = data.get("subscribers", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError("subscribers must be an array of tables: [[subscribers]]")
    return items


def _check_keys(table: dict[str, Any], valid: tuple[str, ...], *, where: str, source: str) -> None:
    for key in table:
        if key not in valid:
            name = f"{where}.{key}" if where else key
            raise ConfigError(
                f"{source}: unknown key '{name}'; valid keys"
                f"{' in [' + where + ']' if where else ''}: {', '.join(valid)}"
            )


def _build_section(cls: type, table: dict[str, Any], *, prefix: str, source: str) -> Any:
    fields = {toml_key(f): f for f in dataclasses.fields(cls)}
    _check_keys(table, tuple(fields), where=prefix, source=source)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        f = fields[key]
        values[f.name] = _coerce(value, hints[f.name], f, name=f"{prefix}.{key}", source=source)
    return cls(**values)


def _coerce(value: Any, hint: Any, f: dataclasses.Field[Any], *, name: str, source: str) -> Any:
    optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    kind = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            Path: "a string (a path)"}.get(base, str(base))
    ok = (
        (base is bool and isinstance(value, bool))
        or (base is int and isinstance(value, int) and not isinstance(value, bool))
        or (base is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (base in (str, Path) and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(f"{source}: {name} must be {kind}, not {value!r}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{source}: {name} = {value!r} is not valid; choose one of: "
                          + ", ".join(choices))
    minimum = f.metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{source}: {name} must be at least {minimum}, not {value!r}")
    if base is Path:
        return Path(value) if value else None if optional else Path(".")
    if base is float:
        return float(value)
    return value


def _build_subscriber(item: dict[str, Any], index: int, source: str) -> Subscriber:
    where = f"subscribers[{index}]"
    _check_keys(item, SUBSCRIBER_KEYS, where=where, source=source)
    email = item.get("email")
    if not isinstance(email, str) or not email:
        raise ConfigError(f"{source}: {where}.email is required and must be a string")
    name = item.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{source}: {where}.name must be a string")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("categories", "keywords"):
        value = item.get(key, [])
        if isinstance(value, str):
            value = [v for v in value.split(";")]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {where}.{key} must be a list of strings")
        lists[key] = tuple(v.strip() for v in value if v.strip())
    return Subscriber(email=email.strip(), name=name.strip(), **lists)


_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def _validate(settings: Settings, source: str) -> None:
    if not _LANGUAGE_TAG.match(settings.site.language):
        raise ConfigError(
            f"{source}: site.language = {settings.site.language!r} is not a language tag "
            "(e.g. 'en', 'zh-CN', 'de')"
        )
    url = settings.site.base_url
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: site.base_url must start with http:// or https://, "
                          f"not {url!r}")
    if settings.schedule.timezone:
        try:
            ZoneInfo(settings.schedule.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{source}: schedule.timezone = {settings.schedule.timezone!r} is not an IANA "
                "time zone name (e.g. 'Europe/Berlin', 'Asia/Shanghai', 'UTC')"
            ) from None
    if len(settings.schedule.send_at.split()) != 5:
        raise ConfigError(
            f"{source}: schedule.send_at = {settings.schedule.send_at!r} must be a cron "
            "expression with 5 fields: minute hour day month weekday (e.g. '0 8 * * *')"
        )
    url = settings.email.unsubscribe_url
    if url and not url.startswith("https://"):
        raise ConfigError(f"{source}: email.unsubscribe_url must be an https:// URL")


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    base_url = settings.site.base_url
    if not base_url.endswith("/"):
        base_url += "/"
    return settings.replace(
        site=dataclasses.replace(settings.site, base_url=base_url),
        input=dataclasses.replace(settings.input, dir=absolute(settings.input.dir)),
        feeds=dataclasses.replace(settings.feeds, out=absolute(settings.feeds.out)),
        email=dataclasses.replace(
            settings.email,
            templates=absolute(settings.email.templates) if settings.email.templates else None,
        ),
        state=dataclasses.replace(settings.state, path=absolute(settings.state.path)),
        subscribers_file=absolute(settings.subscribers_file) if settings.subscribers_file else None,
    )
