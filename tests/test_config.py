"""Config loading errors, and newsletter.example.toml documenting every key with its default."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from conftest import ROOT

from newsletter.config import SECTIONS, Settings, load_settings, toml_key
from newsletter.errors import ConfigError

EXAMPLE = ROOT / "newsletter.example.toml"
_KEY_LINE = re.compile(r"^# (\w+) = (.*)$")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsletter.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _sections_of_example() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"": set()}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and not line.startswith("[["):
            section = line.strip("[]")
            found[section] = set()
        elif match := _KEY_LINE.match(line):
            found[section].add(match[1])
    return found


def test_example_lists_every_key_in_its_section() -> None:
    found = _sections_of_example()
    for name, cls in SECTIONS.items():
        expected = {toml_key(f) for f in dataclasses.fields(cls)}
        assert found.get(name) == expected, name
    assert found[""] == {"subscribers_file"}
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in ("email", "name", "categories", "keywords"):
        assert f"#  {key} = " in text


def test_example_loads_and_its_values_are_the_defaults(tmp_path: Path) -> None:
    as_is = load_settings(EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = "\n".join(
        line[2:] if _KEY_LINE.match(line) else line for line in text.splitlines())
    live = load_settings(_write(tmp_path, uncommented))
    defaults = load_settings(None, cwd=tmp_path)
    for name in SECTIONS:
        assert getattr(live, name) == getattr(defaults, name), name
        assert getattr(as_is, name) == getattr(load_settings(None, cwd=ROOT), name), name
    assert live.subscribers_file is None and live.subscribers == ()


def test_no_config_file_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(None, cwd=tmp_path)
    assert settings.source is None
    assert settings.feeds.out == tmp_path / "feeds"
    assert settings.feeds.days == 7 and settings.feeds.max_entries == 500
    assert settings.input.dir == tmp_path / "inbox"
    assert settings == Settings().replace(
        site=settings.site, input=settings.input, feeds=settings.feeds, email=settings.email,
        state=settings.state)


def test_unknown_key_names_file_key_and_valid_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "[feeds]\nmax_entry = 10\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert "feeds.max_entry" in message
    assert "out, days, max_entries" in message


def test_unknown_section_names_valid_sections(tmp_path: Path) -> None:
    path = _write(tmp_path, "[feed]\ndays = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'feed'.*site, input, feeds"):
        load_settings(path)


@pytest.mark.parametrize(("text", "pattern"), [
    ('[feeds]\ndays = "7"\n', r"feeds\.days must be an integer, not '7'"),
    ("[feeds]\ndays = true\n", r"feeds\.days must be an integer"),
    ("[site]\ntitle = 3\n", r"site\.title must be a string, not 3"),
    ("[feeds]\nout = 1\n", r"feeds\.out must be a string \(a path\)"),
    ("[email]\nsend_empty = 1\n", r"email\.send_empty must be true or false"),
    ("site = 1\n", r"\[site\] must be a table"),
])
def test_wrong_type_names_the_key(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_bad_choice_lists_the_choices(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nsecurity = "tls"\n')
    with pytest.raises(ConfigError, match=r"smtp\.security = 'tls' is not valid; choose one of: "
                                          r"starttls, ssl, none"):
        load_settings(path)


def test_below_minimum_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feeds\.days must be at least 1, not 0"):
        load_settings(_write(tmp_path, "[feeds]\ndays = 0\n"))
    with pytest.raises(ConfigError, match=r"site\.base_url must start with http"):
        load_settings(_write(tmp_path, '[site]\nbase_url = "ftp://x/"\n'))
    with pytest.raises(ConfigError, match=r"site\.language = .* is not a language tag"):
        load_settings(_write(tmp_path, '[site]\nlanguage = \'en" onload="x\'\n'))
    assert load_settings(_write(tmp_path, '[site]\nlanguage = "zh-CN"\n')).site.language == "zh-CN"


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[feeds\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, '[feeds]\nout = "public"\n[input]\ndir = "data"\n'
                            '[site]\nbase_url = "https://x.org/feeds"\n')
    settings = load_settings(path)
    assert settings.feeds.out == tmp_path / "public"
    assert settings.input.dir == tmp_path / "data"
    assert settings.site.base_url == "https://x.org/feeds/"
