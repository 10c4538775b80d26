"""The template environment: user overrides first, and broken templates as one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import ConfigError
from newsletter.templating import TemplateProblem, make_environment, render_template


def test_user_folder_overrides_a_builtin_and_falls_back_for_the_rest(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("mine: {{ x }}", encoding="utf-8")
    env = make_environment(tmp_path)
    assert render_template(env, "email.txt.j2", x="<b>") == "mine: &lt;b&gt;"
    assert env.get_template("day.html.j2").filename is not None
    assert "templates" in str(env.get_template("day.html.j2").filename)


def test_missing_user_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"email\.templates"):
        make_environment(tmp_path / "nope")


@pytest.mark.parametrize(("source", "message"), [
    ("ok\n{{ nosuchvar }}\n", r"email\.txt\.j2:2: 'nosuchvar' is undefined"),
    ("ok\n{% if %}\n", r"email\.txt\.j2:2: template syntax error"),
])
def test_a_broken_template_names_file_and_line(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "email.txt.j2").write_text(source, encoding="utf-8")
    with pytest.raises(TemplateProblem, match=message):
        render_template(make_environment(tmp_path), "email.txt.j2")


def test_unknown_template_name() -> None:
    with pytest.raises(TemplateProblem, match="not found"):
        render_template(make_environment(), "nope.j2")
