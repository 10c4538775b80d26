"""SMTP transport: one connection per batch, reconnects, retries with backoff, rate limit."""

from __future__ import annotations

import base64
import enum
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.config import SmtpSettings
from newsletter.errors import SmtpSetupError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
_EOL = re.compile(rb"\r\n|\r|\n")


class Outcome(enum.Enum):
    SENT = "sent"  # the server accepted the message (250 after DATA)
    FAILED = "failed"  # a permanent 5xx for this recipient: do not retry
    DEFERRED = "deferred"  # temporary failures until the retries ran out: try again later
    UNKNOWN = "unknown"  # the connection died after the whole message was sent: maybe delivered


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    error: str = ""


class _Dropped(Exception):
    """The connection went away before the message was handed over: safe to retry."""


class _Ambiguous(Exception):
    """The connection went away after the message body was sent: outcome unknown."""


class SmtpTransport:
    """Sends pre-serialised messages over one SMTP connection, opened lazily.

    `sleep` and `clock` are parameters so tests can run retries and rate limits without waiting.
    The password comes from `os.environ[settings.password_env]` (or `password=` for tests) and
    never appears in a log line or an exception message.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._password = password
        self._ssl_context = ssl_context
        self._sleep = sleep
        self._clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._next_slot = 0.0
        self.connections = 0  # how many times a connection was opened (for reports and tests)

    # -- connection ---------------------------------------------------------------------------

    def _describe(self) -> str:
        s = self.settings
        user = f"username {s.username!r}" if s.username else "no username"
        return f"host {s.host}, port {s.port}, security {s.security}, {user}"

    def _hint(self) -> str:
        if self.settings.username:
            return (f"check smtp.host, smtp.port, smtp.security, smtp.username and the password "
                    f"in the environment variable {self.settings.password_env}")
        return "check smtp.host, smtp.port and smtp.security"

    def _setup_error(self, what: str, exc: BaseException | str) -> SmtpSetupError:
        detail = self._scrub(str(exc) or type(exc).__name__) if not isinstance(exc, str) else exc
        return SmtpSetupError(f"SMTP {what} failed ({self._describe()}): {detail}; {self._hint()}")

    def _scrub(self, text: str) -> str:
        """Remove the password (and its base64 forms) from text that may reach the user."""
        password = self._get_password(required=False)
        if password:
            for secret in (password, base64.b64encode(password.encode()).decode()):
                text = text.replace(secret, "***")
        return " ".join(text.split())

    def _get_password(self, *, required: bool) -> str | None:
        if self._password is not None:
            return self._password
        value = os.environ.get(self.settings.password_env)
        if value is None and required:
            raise SmtpSetupError(
                f"SMTP login needs a password ({self._describe()}): set the environment "
                f"variable {self.settings.password_env}"
            )
        return value

    def open(self) -> None:
        """Connect, secure and log in. Raises SmtpSetupError with what to check."""
        if self._smtp is not None:
            return
        s = self.settings
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except ssl.SSLError as exc:
            raise self._setup_error("TLS handshake", exc) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise self._setup_error("connection", exc) from None
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
        except smtplib.SMTPNotSupportedError:
            smtp.close()
            raise self._setup_error("STARTTLS", "the server does not offer STARTTLS") from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise self._setup_error("TLS" if s.security != "none" else "greeting", exc) from None
        if s.username:
            password = self._get_password(required=True)
            assert password is not None
            try:
                smtp.login(s.username, password)
            except smtplib.SMTPAuthenticationError as exc:
                smtp.close()
                reply = self._scrub(_text(exc.smtp_error))
                raise self._setup_error("login", f"{exc.smtp_code} {reply}") from None
            except (OSError, smtplib.SMTPException) as exc:
                smtp.close()
                raise self._setup_error("login", exc) from None
        self._smtp = smtp
        self.connections += 1
        log.debug("SMTP connected to %s:%s", s.host, s.port)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ------------------------------------------------------------------------------

    def send(self, sender: str, recipient: str, data: bytes, *, crlf: bool = False
             ) -> SendResult:
        """Send one message to one recipient, retrying temporary failures with backoff.

        `crlf=True` promises every line of `data` already ends in CRLF (skips that check).

        Raises SmtpSetupError when (re)connecting or logging in fails.
        """
        self._wait_for_slot()
        attempts = self.settings.retries + 1
        error = ""
        for attempt in range(attempts):
            if attempt:
                delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempt - 1))
                log.info("retrying %s in %.0f s after: %s", recipient, delay, error)
                self._sleep(delay)
            self.open()
            try:
                self._transact(sender, recipient, data, crlf=crlf)
                return SendResult(Outcome.SENT)
            except smtplib.SMTPResponseException as exc:
                error = f"{exc.smtp_code} {self._scrub(_text(exc.smtp_error))}"
                if exc.smtp_code == 421:  # the server is closing the connection: reconnect
                    self._drop()
                    continue
                self._reset()
                if 500 <= exc.smtp_code < 600:
                    return SendResult(Outcome.FAILED, error)
            except _Dropped as exc:
                error = f"connection lost: {self._scrub(str(exc.__cause__ or exc))}"
                self._drop()
            except _Ambiguous as exc:
                self._drop()
                return SendResult(
                    Outcome.UNKNOWN,
                    f"connection lost after the message was sent; it may have been delivered "
                    f"({self._scrub(str(exc.__cause__ or exc))})",
                )
        return SendResult(Outcome.DEFERRED, error)

    def _transact(self, sender: str, recipient: str, data: bytes, *, crlf: bool) -> None:
        """MAIL, RCPT, DATA by hand, so a drop before and after the body are told apart."""
        smtp = self._smtp
        assert smtp is not None
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)}) from None
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients[recipient]
            raise smtplib.SMTPResponseException(code, reply) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Dropped(str(exc)) from exc
        try:
            smtp.send(encode_data(data, crlf=crlf))
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Ambiguous(str(exc)) from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _wait_for_slot(self) -> None:
        """At most smtp.max_per_minute messages a minute: messages spaced 60/n seconds apart."""
        per_minute = self.settings.max_per_minute
        if per_minute <= 0:
            return
        now = self._clock()
        if now < self._next_slot:
            self._sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + 60.0 / per_minute


def encode_data(data: bytes, *, crlf: bool = False) -> bytes:
    """The DATA payload: CRLF line ends, leading dots doubled (RFC 5321 4.5.2), final dot."""
    if not crlf and (data.count(b"\n") != data.count(b"\r\n")
                     or data.count(b"\r") != data.count(b"\n")):
        data = _EOL.sub(b"\r\n", data)  # bare CR or LF: normalise (our messages have none)
    body = data.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def make_transport(settings: SmtpSettings) -> SmtpTransport:
    """The production transport for `settings` (password read from the environment)."""
    return SmtpTransport(settings)

