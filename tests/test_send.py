"""`newsletter send` / `status` / `unsubscribe` end to end against a real aiosmtpd server."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path

from conftest import EXAMPLES, ROOT
from smtp_server import (
    PASSWORD,
    MuteServer,
    SmtpServer,
    mute_server_fixture,  # noqa: F401
    smtp_server_fixture,  # noqa: F401
)

from newsletter.config import Settings, load_settings
from newsletter.delivery import CRASH_HOOK_ENV, send_digests
from newsletter.state import open_state
from newsletter.status import collect_status
from newsletter.transport import SmtpTransport

DIGEST = EXAMPLES / "2025-06-04.md"
SENDER = "news@lab.example.org"
SUBSCRIBERS = [
    ("all@example.com", "Ann All", "", ""),
    ("cv@example.com", "Carl Vision", "cs.CV", ""),
    ("bio@example.com", "Bea Bio", "q-bio.*", ""),
    ("none@example.com", "Nora None", "", "zzz-no-such-keyword"),
    ("gone@example.com", "Gus Gone", "", ""),
]


def write_config(tmp: Path, port: int, *, extra: str = "", subscribers: list[tuple[str, ...]]
                 | None = None) -> Path:
    inbox = tmp / "inbox"
    inbox.mkdir(exist_ok=True)
    if not (inbox / DIGEST.name).exists():
        shutil.copy(DIGEST, inbox / DIGEST.name)
    rows = ["email,name,categories,keywords"]
    rows += [",".join(row) for row in (subscribers if subscribers is not None else SUBSCRIBERS)]
    (tmp / "subscribers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = tmp / "newsletter.toml"
    config.write_text(f"""
subscribers_file = "subscribers.csv"
[site]
title = "Lab arXiv digest"
base_url = "https://lab.example.org/feeds/"
[input]
dir = "inbox"
[email]
from = "Lab digest <{SENDER}>"
unsubscribe_url = "https://lab.example.org/unsubscribe"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout = 2
retries = 2
[state]
path = "state.sqlite3"
{extra}
""", encoding="utf-8")
    return config


class NoWait(SmtpTransport):
    """The real transport with a sleep that does not wait (backoff is tested elsewhere)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.smtp, sleep=lambda s: None)


def send(settings: Settings, **kw: object) -> object:
    transport = NoWait(settings)
    try:
        return send_digests(settings, transport=transport, **kw)  # type: ignore[arg-type]
    finally:
        transport.close()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "newsletter.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=60, cwd=ROOT)


def received(server: SmtpServer) -> dict[str, EmailMessage]:
    out: dict[str, EmailMessage] = {}
    for m in server.handler.messages:
        assert len(m.rcpt_tos) == 1
        assert m.rcpt_tos[0] not in out, f"{m.rcpt_tos[0]} got two messages"
        msg = email.message_from_bytes(m.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out[m.rcpt_tos[0]] = msg
    return out


def test_one_message_per_recipient_with_their_filter_and_headers(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    with open_state(settings.state.path) as state:
        state.add_suppression("Gone@Example.com")
    report = send(settings)
    got = received(smtp_server)
    assert set(got) == {"all@example.com", "cv@example.com", "bio@example.com"}
    assert report.unsent == 0  # type: ignore[attr-defined]
    for rcpt, msg in got.items():
        assert msg["From"] == f"Lab digest <{SENDER}>"
        assert rcpt in msg["To"] and "," not in msg["To"]
        assert "Cc" not in msg and "Bcc" not in msg
        assert msg["Subject"] and msg["Date"]
        assert msg["Message-ID"].endswith("@lab.example.org>")
        assert msg["List-Id"].endswith(".lab.example.org>")
        unsub = msg["List-Unsubscribe"]
        assert f"<mailto:{SENDER}" in unsub
        assert "<https://lab.example.org/unsubscribe?token=" in unsub
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in msg.iter_parts()]
        assert parts == ["text/plain", "text/html"]
    # long header values are not folded (policy.SMTP with max_line_length=998)
    raw = next(m.data for m in smtp_server.handler.messages)
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    unsub_line = next(line for line in header_block.split(b"\r\n")
                      if line.startswith(b"List-Unsubscribe:"))
    assert b"token=" in unsub_line and unsub_line.endswith(b">")
    # each subscriber's filter: the CV subscriber sees cs.CV papers only
    cv_text = got["cv@example.com"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    all_text = got["all@example.com"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Seeing Through Fog" in cv_text and "Seeing Through Fog" in all_text
    bio_html = got["bio@example.com"].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Seeing Through Fog" not in bio_html
    assert len(cv_text) < len(all_text)
    # tokens differ per recipient
    tokens = {m["List-Unsubscribe"].split("token=")[1] for m in got.values()}
    assert len(tokens) == 3
    # size budget
    for m in smtp_server.handler.messages:
        assert len(m.data) <= settings.email.max_bytes


def test_a_second_send_and_a_rewritten_digest_send_nothing(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    send(settings)
    first = len(smtp_server.handler.messages)
    assert first == 4
    digest_file = settings.input.dir / DIGEST.name
    digest_file.write_text(digest_file.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    report = send(settings)
    assert len(smtp_server.handler.messages) == first
    assert report.digests == ()  # type: ignore[attr-defined]
    with open_state(settings.state.path) as state:
        row = state.get_digest("2025-06-04")
        assert row is not None and row.status == "sent"


def test_send_empty_mails_the_subscriber_with_nothing_selected(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, smtp_server.port, extra="", subscribers=[
        ("none@example.com", "Nora", "", "zzz-no-such-keyword")])
    text = config.read_text().replace('unsubscribe_url = ', 'send_empty = true\nunsubscribe_url = ')
    config.write_text(text)
    send(load_settings(config))
    assert smtp_server.handler.recipients() == ["none@example.com"]


def test_451_once_then_success(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.handler.faults.temp_fail_data = 1
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    report = send(settings)
    assert sorted(smtp_server.handler.recipients()) == [
        "all@example.com", "bio@example.com", "cv@example.com", "gone@example.com"]
    assert report.unsent == 0  # type: ignore[attr-defined]


def test_550_for_one_recipient_fails_it_and_the_rest_receive(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.faults.reject = {"cv@example.com"}
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    report = send(settings)
    assert sorted(smtp_server.handler.recipients()) == [
        "all@example.com", "bio@example.com", "gone@example.com"]
    assert report.unsent == 1  # type: ignore[attr-defined]
    status = collect_status(settings.state.path)
    (digest,) = status.digests
    assert (digest.sent, digest.failed, digest.pending, digest.unknown) == (3, 1, 0, 0)
    assert digest.issues[0].recipient == "cv@example.com"
    assert digest.issues[0].last_error.startswith("550")
    # a failed recipient is not retried by the next run
    send(settings)
    assert len(smtp_server.handler.messages) == 3


def test_dropped_connection_mid_batch_resumes_without_duplicates(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.faults.drop_at_mail = {2}
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    report = send(settings)
    assert sorted(smtp_server.handler.recipients()) == [
        "all@example.com", "bio@example.com", "cv@example.com", "gone@example.com"]
    assert report.unsent == 0  # type: ignore[attr-defined]
    assert smtp_server.handler.connections == 2


def test_server_that_never_answers_leaves_everything_pending(
    tmp_path: Path, mute_server: MuteServer
) -> None:
    port = mute_server.port
    config = write_config(tmp_path, port)
    result = run_cli("send", "-c", str(config))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "error: SMTP connection failed" in result.stderr
    status = collect_status(load_settings(config).state.path)
    (digest,) = status.digests
    assert (digest.sent, digest.pending) == (0, 4)


def test_crash_between_sending_and_sent(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = write_config(tmp_path, smtp_server.port)
    crashed = run_cli("send", "-c", str(config), env={CRASH_HOOK_ENV: "cv@example.com"})
    assert crashed.returncode == 75
    before = sorted(smtp_server.handler.recipients())
    assert "cv@example.com" not in before
    status = run_cli("status", "-c", str(config), "--json")
    assert status.returncode == 0
    (digest,) = json.loads(status.stdout)["digests"]
    assert digest["unknown"] == 1
    assert [(i["recipient"], i["status"]) for i in digest["issues"]] == [
        ("cv@example.com", "unknown")]
    assert "unknown" in run_cli("status", "-c", str(config)).stdout
    rerun = run_cli("send", "-c", str(config))
    assert rerun.returncode == 1  # the unknown one is left unsent
    after = sorted(smtp_server.handler.recipients())
    assert after == ["all@example.com", "bio@example.com", "gone@example.com"]
    retry = run_cli("send", "-c", str(config), "--retry-unknown")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert sorted(smtp_server.handler.recipients()) == [
        "all@example.com", "bio@example.com", "cv@example.com", "gone@example.com"]
    again = run_cli("send", "-c", str(config), "--retry-unknown")
    assert again.returncode == 0 and len(smtp_server.handler.messages) == 4


def test_two_concurrent_sends_mail_each_recipient_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    many = [(f"u{i:03d}@example.com", f"User {i}", "", "") for i in range(60)]
    smtp_server.handler.faults.data_delay = 0.01  # keeps both processes busy at the same time
    config = write_config(tmp_path, smtp_server.port, subscribers=many)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "newsletter.cli", "send", "-c", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted(smtp_server.handler.recipients()) == [r[0] for r in many]


def test_dry_run_writes_eml_files_and_records_nothing(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, smtp_server.port)
    outbox = tmp_path / "out box"
    result = run_cli("send", "-c", str(config), "--dry-run", "-o", str(outbox))
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in outbox.iterdir())
    assert files == ["2025-06-04__all@example.com.eml", "2025-06-04__bio@example.com.eml",
                     "2025-06-04__cv@example.com.eml", "2025-06-04__gone@example.com.eml"]
    msg = email.message_from_bytes((outbox / files[0]).read_bytes(), policy=policy.default)
    assert msg["To"] == "Ann All <all@example.com>"
    assert smtp_server.handler.messages == []
    # nothing recorded: no digest, no delivery (the database only holds the unsubscribe secret)
    status = collect_status(load_settings(config).state.path)
    assert status.digests == ()
    # and the token in the dry run's List-Unsubscribe is valid for the real send
    token = msg["List-Unsubscribe"].split("token=")[1].split(">")[0]
    done = run_cli("unsubscribe", "-c", str(config), token)
    assert done.returncode == 0, done.stderr
    assert "all@example.com" in done.stdout


def test_test_send_is_recorded_apart(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = write_config(tmp_path, smtp_server.port)
    result = run_cli("send", "-c", str(config), "--to", "me@example.net")
    assert result.returncode == 0, result.stderr
    assert smtp_server.handler.recipients() == ["me@example.net"]
    status = collect_status(load_settings(config).state.path)
    (digest,) = status.digests
    assert (digest.test_sends, digest.sent, digest.status) == (1, 0, "new")
    run_cli("send", "-c", str(config))
    assert len(smtp_server.handler.messages) == 5  # the real send still went out


def test_unsubscribe_command_suppresses_the_address(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, smtp_server.port)
    result = run_cli("unsubscribe", "-c", str(config), "CV@example.com")
    assert result.returncode == 0 and "suppression list" in result.stdout
    bad = run_cli("unsubscribe", "-c", str(config), "not an address")
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    run_cli("send", "-c", str(config))
    assert "cv@example.com" not in smtp_server.handler.recipients()
    assert len(smtp_server.handler.messages) == 3


def test_auth_failure_names_what_to_check_and_never_prints_the_password(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    # The test server offers no AUTH without TLS, so the login fails like a wrong password.
    config = write_config(tmp_path, smtp_server.port, extra="")
    text = config.read_text().replace('security = "none"',
                                      'security = "none"\nusername = "lab"\n'
                                      'password_env = "LAB_SMTP_PW"')
    config.write_text(text)
    result = run_cli("send", "-c", str(config), "-v", env={"LAB_SMTP_PW": PASSWORD})
    assert result.returncode == 1
    assert "LAB_SMTP_PW" in result.stderr and "username 'lab'" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert smtp_server.handler.messages == []



def test_drop_after_the_body_is_unknown_and_not_resent(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.faults.drop_after_data = {2}
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    report = send(settings)
    assert report.unsent == 1  # type: ignore[attr-defined]
    first = sorted(smtp_server.handler.recipients())
    assert len(first) == 4  # the server did take the second message before dropping
    (digest,) = collect_status(settings.state.path).digests
    assert (digest.sent, digest.unknown) == (3, 1)
    send(settings)
    assert sorted(smtp_server.handler.recipients()) == first


def test_unsubscribe_accepts_the_token_from_the_one_click_url(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, smtp_server.port)
    send(load_settings(config))
    msg = received(smtp_server)["bio@example.com"]
    token = msg["List-Unsubscribe"].split("token=")[1].rstrip(">")
    result = run_cli("unsubscribe", "-c", str(config), token)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bio@example.com: added")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert run_cli("unsubscribe", "-c", str(config), forged).returncode == 1


def test_a_bad_file_in_the_inbox_is_reported_the_rest_is_sent_and_the_exit_is_1(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, smtp_server.port)
    (tmp_path / "inbox" / "2025-06-05.md").write_text("meeting notes, not a digest\n")
    result = run_cli("send", "-c", str(config))
    assert result.returncode == 1
    assert "2025-06-05.md" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "all@example.com" in smtp_server.handler.recipients()
