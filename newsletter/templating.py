"""The Jinja2 environment: user template folder first, built-ins second, autoescape, strict."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jinja2


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
