"""The SMTP transport against a real aiosmtpd server on 127.0.0.1: faults, TLS, AUTH."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from smtp_server import (
    PASSWORD,
    USERNAME,
    MuteServer,
    SmtpServer,
    mute_server_fixture,  # noqa: F401
    smtp_server_fixture,  # noqa: F401
    start_server,
    tls_material_fixture,  # noqa: F401
)

from newsletter.config import SmtpSettings
from newsletter.errors import SmtpSetupError
from newsletter.transport import Outcome, SmtpTransport, encode_data


def message(to: str, body: str = "hello") -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@example.org"
    msg["To"] = to
    msg["Subject"] = "test"
    msg.set_content(body)
    return msg.as_bytes()


class Sleeps:
    """A fake sleep and clock: records the waits, advances the clock, never blocks."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def transport_for(port: int, *, sleeps: Sleeps | None = None, **changes: object) -> SmtpTransport:
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=2.0,
                            **changes)  # type: ignore[arg-type]
    sleeps = sleeps or Sleeps()
    return SmtpTransport(settings, sleep=sleeps.sleep, clock=sleeps.clock)


def test_one_connection_for_a_batch(smtp_server: SmtpServer) -> None:
    with transport_for(smtp_server.port) as t:
        results = [t.send("news@example.org", f"u{i}@example.com", message(f"u{i}@example.com"))
                   for i in range(5)]
    assert [r.outcome for r in results] == [Outcome.SENT] * 5
    assert smtp_server.handler.recipients() == [f"u{i}@example.com" for i in range(5)]
    assert t.connections == 1
    assert smtp_server.handler.connections == 1


def test_dot_stuffing_and_line_ends_survive() -> None:
    assert encode_data(b"a\n.b\r\n..c") == b"a\r\n..b\r\n...c\r\n.\r\n"


def test_451_is_retried_with_backoff(smtp_server: SmtpServer) -> None:
    smtp_server.handler.faults.temp_fail_data = 2
    sleeps = Sleeps()
    with transport_for(smtp_server.port, sleeps=sleeps) as t:
        result = t.send("news@example.org", "a@example.com", message("a@example.com"))
    assert result.outcome is Outcome.SENT
    assert smtp_server.handler.recipients() == ["a@example.com"]
    assert sleeps.waits == [1.0, 2.0]


def test_451_forever_is_deferred_after_bounded_retries(smtp_server: SmtpServer) -> None:
    smtp_server.handler.faults.temp_fail_data = 100
    sleeps = Sleeps()
    with transport_for(smtp_server.port, sleeps=sleeps, retries=3) as t:
        result = t.send("news@example.org", "a@example.com", message("a@example.com"))
    assert result.outcome is Outcome.DEFERRED
    assert result.error.startswith("451")
    assert smtp_server.handler.data_count == 4
    assert smtp_server.handler.messages == []
    assert sleeps.waits == [1.0, 2.0, 4.0]


def test_550_fails_that_recipient_and_the_batch_goes_on(smtp_server: SmtpServer) -> None:
    smtp_server.handler.faults.reject = {"bad@example.com"}
    with transport_for(smtp_server.port) as t:
        outcomes = [t.send("news@example.org", rcpt, message(rcpt)).outcome
                    for rcpt in ("a@example.com", "bad@example.com", "c@example.com")]
    assert outcomes == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
    assert smtp_server.handler.recipients() == ["a@example.com", "c@example.com"]


def test_dropped_connection_reconnects_and_resends(smtp_server: SmtpServer) -> None:
    smtp_server.handler.faults.drop_at_mail = {3}
    with transport_for(smtp_server.port) as t:
        outcomes = [t.send("news@example.org", f"u{i}@example.com",
                           message(f"u{i}@example.com")).outcome for i in range(5)]
    assert outcomes == [Outcome.SENT] * 5
    assert smtp_server.handler.recipients() == [f"u{i}@example.com" for i in range(5)]
    assert t.connections == 2


def test_drop_after_the_body_is_unknown_not_resent(smtp_server: SmtpServer) -> None:
    smtp_server.handler.faults.drop_after_data = {2}
    with transport_for(smtp_server.port) as t:
        outcomes = [t.send("news@example.org", f"u{i}@example.com",
                           message(f"u{i}@example.com")).outcome for i in range(3)]
    assert outcomes == [Outcome.SENT, Outcome.UNKNOWN, Outcome.SENT]
    # the server did take message 2; the transport must not have sent it a second time
    assert smtp_server.handler.recipients() == ["u0@example.com", "u1@example.com",
                                                "u2@example.com"]


def test_a_server_that_never_answers_times_out(mute_server: MuteServer) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=mute_server.port, security="none",
                            timeout=1.0)
    with pytest.raises(SmtpSetupError) as info:
        SmtpTransport(settings).send("news@example.org", "a@example.com", message("a@x.org"))
    text = str(info.value)
    assert f"port {mute_server.port}" in text and "security none" in text
    assert "\n" not in text


def test_connection_refused_names_host_port_security() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = transport_for(port)
    with pytest.raises(SmtpSetupError, match=rf"host 127.0.0.1, port {port}, security none"):
        t.open()


def test_rate_limit_spaces_messages(smtp_server: SmtpServer) -> None:
    sleeps = Sleeps()
    with transport_for(smtp_server.port, sleeps=sleeps, max_per_minute=30) as t:
        for i in range(3):
            t.send("news@example.org", f"u{i}@example.com", message("x"))
    assert sleeps.waits == [2.0, 2.0]
    assert len(smtp_server.handler.messages) == 3


@pytest.fixture
def tls_server(tls_material: tuple[ssl.SSLContext, ssl.SSLContext],
               request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    implicit, auth = request.param
    server = start_server(tls=tls_material[0], implicit_tls=implicit, auth=auth)
    yield server
    server.controller.stop()


@pytest.mark.parametrize("tls_server", [(False, False), (True, False)], indirect=True,
                         ids=["starttls", "ssl"])
def test_starttls_and_ssl_with_a_self_signed_certificate(
    tls_server: SmtpServer, tls_material: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    implicit = tls_server.controller.ssl_context is not None
    settings = SmtpSettings(host="127.0.0.1", port=tls_server.port, timeout=2.0,
                            security="ssl" if implicit else "starttls")
    with SmtpTransport(settings, ssl_context=tls_material[1]) as t:
        assert t.send("news@example.org", "a@example.com", message("a")).outcome is Outcome.SENT
    assert tls_server.handler.recipients() == ["a@example.com"]


@pytest.mark.parametrize("tls_server", [(False, False)], indirect=True)
def test_untrusted_certificate_is_a_setup_error(tls_server: SmtpServer) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=tls_server.port, timeout=2.0,
                            security="starttls")
    with pytest.raises(SmtpSetupError, match="TLS"):
        SmtpTransport(settings).open()
    assert tls_server.handler.messages == []


@pytest.mark.parametrize("tls_server", [(False, True)], indirect=True)
def test_auth_success_reads_the_password_from_the_environment(
    tls_server: SmtpServer, tls_material: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PW", PASSWORD)
    settings = SmtpSettings(host="127.0.0.1", port=tls_server.port, timeout=2.0,
                            security="starttls", username=USERNAME, password_env="TEST_SMTP_PW")
    with SmtpTransport(settings, ssl_context=tls_material[1]) as t:
        assert t.send("news@example.org", "a@example.com", message("a")).outcome is Outcome.SENT
    assert tls_server.handler.recipients() == ["a@example.com"]


@pytest.mark.parametrize("tls_server", [(False, True)], indirect=True)
def test_auth_failure_is_one_clear_line_without_the_password(
    tls_server: SmtpServer, tls_material: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tls_server.handler.faults.auth_ok = False
    monkeypatch.setenv("TEST_SMTP_PW", PASSWORD)
    settings = SmtpSettings(host="127.0.0.1", port=tls_server.port, timeout=2.0,
                            security="starttls", username=USERNAME, password_env="TEST_SMTP_PW")
    with pytest.raises(SmtpSetupError) as info:
        SmtpTransport(settings, ssl_context=tls_material[1]).open()
    text = str(info.value)
    assert "login failed" in text
    for part in ("127.0.0.1", str(tls_server.port), "starttls", USERNAME, "TEST_SMTP_PW"):
        assert part in text
    assert PASSWORD not in text and PASSWORD not in caplog.text
    assert "\n" not in text


def test_missing_password_variable_is_named(monkeypatch: pytest.MonkeyPatch,
                                            smtp_server: SmtpServer) -> None:
    monkeypatch.delenv("NO_SUCH_PW_VAR", raising=False)
    settings = SmtpSettings(host="127.0.0.1", port=smtp_server.port, timeout=2.0,
                            security="none", username="lab", password_env="NO_SUCH_PW_VAR")
    with pytest.raises(SmtpSetupError, match="NO_SUCH_PW_VAR"):
        SmtpTransport(settings).open()


@pytest.mark.parametrize("data", [b"", b".", b".x\r\n", b"a\r\n.\r\nb", b"a\n.b\rc\r\n..d",
                                  b"no dots\r\n", b"\r\n.\r\n.\n", b"x" * 100 + b"\r\n"])
def test_encode_data_normalises_line_ends_and_doubles_leading_dots(data: bytes) -> None:
    import re

    # the regex way smtplib does it (_quote_periods), after normalising every line end
    expected = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\r|\n", b"\r\n", data))
    if not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert encode_data(data) == expected + b".\r\n"
