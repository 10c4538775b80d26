"""The Jinja2 environment: user template folder first, built-ins second, autoescape, strict."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from newsletter.errors import ConfigError, NewsletterError


class TemplateProblem(NewsletterError):
    """A template (usually a user's override) failed to load or render."""


def builtin_template_dir() -> Path:
    """The folder of the templates shipped inside the package."""
    return Path(str(resources.files("newsletter.templates")))


def make_environment(user_dir: Path | None = None) -> jinja2.Environment:
    """An environment that looks in `user_dir` (if given) before the built-in templates.

    Autoescape is on for every template (the `.txt.j2` ones turn it off with
    `{% autoescape false %}`), and an undefined variable is an error, never an empty string.
    """
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        if not user_dir.is_dir():
            raise ConfigError(
                f"email.templates = {str(user_dir)!r} is not a folder; create it (with files "
                "named like the built-in templates) or remove the key to use the built-ins"
            )
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(builtin_template_dir())))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render_template(env: jinja2.Environment, name: str, /, **context: Any) -> str:
    """Render template `name`; a broken (user) template becomes one clear error, no traceback."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateProblem(f"template {exc.name} not found") from exc
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateProblem(
            f"{where}:{exc.lineno}: template syntax error: {exc.message}"
        ) from exc
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"{_template_location(exc) or name}: {exc}") from exc


def _template_location(exc: BaseException) -> str:
    """file:line of the innermost template frame in `exc`'s traceback (jinja maps them)."""
    location = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            location = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return location
