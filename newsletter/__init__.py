"""newsletter: daily-arXiv digests -> per-category Atom feeds and an HTML email newsletter."""

__version__ = "0.1.0"
