"""CSS inlining with premailer, set up the way email clients need it (and quiet)."""

from __future__ import annotations

import logging

import cssutils
from premailer import Premailer

_QUIET = logging.CRITICAL


def inline_css(html: str) -> str:
    """`html` with its `<style>` rules moved into `style` attributes.

    `<style data-premailer="ignore">` blocks (media queries, dark mode) are kept as they are;
    `!important` is kept (dark-mode overrides need it); nothing is fetched from the network.
    """
    cssutils.log.setLevel(_QUIET)
    premailer = Premailer(
        html,
        strip_important=False,
        allow_network=False,
        allow_loading_external_files=False,
        keep_style_tags=False,
        disable_validation=True,
        cssutils_logging_level=_QUIET,
        disable_link_rewrites=True,
        remove_classes=False,
    )
    out: str = premailer.transform(pretty_print=False)
    return out
