"""Real SMTP servers for the tests: aiosmtpd on 127.0.0.1 with fault switches, and a mute one."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "lab"
PASSWORD = "s3cret-Pa55word"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parse(self) -> Message:
        return email.message_from_bytes(self.data)


@dataclass
class Faults:
    """Switches a test flips to make the server misbehave."""

    temp_fail_data: int = 0  # answer 451 to the next N end-of-DATA
    reject: set[str] = field(default_factory=set)  # 550 at RCPT for these addresses
    drop_at_mail: set[int] = field(default_factory=set)  # drop the connection at MAIL number N
    drop_after_data: set[int] = field(default_factory=set)  # drop after the body of message N
    auth_ok: bool = True
    data_delay: float = 0.0  # seconds the server takes to answer each end-of-DATA


class RecordingHandler:
    """Records every accepted message; counts MAIL commands to place faults."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.faults = Faults()
        self.mail_count = 0
        self.data_count = 0
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        with self.lock:
            self.mail_count += 1
            number = self.mail_count
        if number in self.faults.drop_at_mail:
            server.transport.abort()
            return "421 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.faults.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.faults.data_delay:
            await asyncio.sleep(self.faults.data_delay)
        with self.lock:
            self.data_count += 1
            number = self.data_count
            if self.faults.temp_fail_data > 0:
                self.faults.temp_fail_data -= 1
                return "451 4.3.0 Try again later"
            data = envelope.original_content or envelope.content
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data))
        if number in self.faults.drop_after_data:
            server.transport.abort()
        return "250 OK queued"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (self.faults.auth_ok and isinstance(auth_data, LoginPassword)
              and auth_data.login == USERNAME.encode() and auth_data.password == PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    def recipients(self) -> list[str]:
        return [r for m in self.messages for r in m.rcpt_tos]


class _PortZeroController(Controller):
    """aiosmtpd's Controller on an ephemeral port (port=0), the real port read after binding."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    handler: RecordingHandler
    controller: Controller
    host: str
    port: int


def start_server(*, tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
                 auth: bool = False) -> SmtpServer:
    handler = RecordingHandler()
    kwargs: dict[str, Any] = {}
    if tls is not None and not implicit_tls:
        kwargs.update(tls_context=tls, require_starttls=True)
    if auth:
        kwargs.update(authenticator=handler.authenticate, auth_require_tls=tls is not None)
    controller = _PortZeroController(
        handler, hostname="127.0.0.1", port=0,
        ssl_context=tls if implicit_tls else None, **kwargs,
    )
    controller.start()
    return SmtpServer(handler, controller, "127.0.0.1", controller.port)


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.controller.stop()


@dataclass
class MuteServer:
    """Accepts TCP connections and never says a word (a server that hangs)."""

    port: int
    sock: socket.socket
    conns: list[socket.socket]
    thread: threading.Thread
    stop: threading.Event


@pytest.fixture(name="mute_server")
def mute_server_fixture() -> Iterator[MuteServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.1)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            conns.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield MuteServer(sock.getsockname()[1], sock, conns, thread, stop)
    stop.set()
    thread.join()
    for conn in conns:
        conn.close()
    sock.close()


@pytest.fixture(scope="session", name="tls_material")
def tls_material_fixture() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting the test CA) from a self-signed CA (trustme)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx
