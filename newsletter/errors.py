"""The project's exception types: one root, a few subclasses, messages written for the user."""

from __future__ import annotations


class NewsletterError(Exception):
    """Root of every error the tool reports to the person running it (one line, exit 1)."""


class DigestError(NewsletterError):
    """A digest file cannot be read or is not a digest at all."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ConfigError(NewsletterError):
    """The configuration file (or a command-line option) is wrong."""


class StateError(NewsletterError):
    """The state database cannot be opened or is locked by another process."""


class DeliveryError(NewsletterError):
    """Mail could not be delivered; the message says what to check."""


class SmtpSetupError(DeliveryError):
    """Connecting, TLS or login failed: the whole batch stops."""
