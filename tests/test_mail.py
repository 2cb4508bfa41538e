"""Email through a real SMTP server on 127.0.0.1 (aiosmtpd), read back from what it received."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from conftest import ORGANISATIONS

from kb.cli.main import main


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def mail_section(port: int) -> str:
    return f'\n[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nfrom_address = "kb@kb.example"\n'


def make_root(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "entries").mkdir()
    (root / "feeds").mkdir()
    (root / "config.toml").write_text("[accounts]\ntest_hashing = true\n" + ORGANISATIONS + extra)
    return root


def test_kb_mail_test_sends_through_the_server(tmp_path, smtp):
    inbox, port = smtp
    root = make_root(tmp_path / "kb", mail_section(port))
    result = CliRunner().invoke(main, ["--root", str(root), "mail", "test", "you@org-a.example"])
    assert result.exit_code == 0, result.output
    assert result.output == f"sent a test message to you@org-a.example through 127.0.0.1:{port} (none)\n"
    [message] = inbox.to("you@org-a.example")
    assert message["From"] == "kb@kb.example"
    assert "Email works." in message.get_content()


def test_kb_mail_test_says_mail_is_off_without_a_host(tmp_path):
    root = make_root(tmp_path / "kb")
    result = CliRunner().invoke(main, ["--root", str(root), "mail", "test", "you@org-a.example"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: email is off: set host (and from_address) under [mail] in config.toml"
    ]


def test_kb_mail_test_names_a_server_that_is_not_there(tmp_path):
    port = free_port()  # nothing listens on it
    root = make_root(tmp_path / "kb", mail_section(port))
    result = CliRunner().invoke(main, ["--root", str(root), "mail", "test", "you@org-a.example"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"cannot send through 127.0.0.1:{port}" in result.output


def test_a_password_in_the_environment_that_is_missing_is_one_sentence(tmp_path, smtp):
    _, port = smtp
    extra = mail_section(port) + 'user = "kb"\npassword_env = "KB_TEST_SMTP_PASSWORD_UNSET"\n'
    root = make_root(tmp_path / "kb", extra)
    result = CliRunner().invoke(main, ["--root", str(root), "mail", "test", "you@org-a.example"])
    assert result.exit_code == 1
    assert "the environment variable KB_TEST_SMTP_PASSWORD_UNSET (mail.password_env) is not set" in result.output


def test_mail_settings_are_checked(tmp_path):
    extra = '\n[mail]\nsecurity = "ssl"\npassword_env = "hunter2 secret"\nfrom_address = "nobody"\nport = 0\n'
    root = make_root(tmp_path / "kb", extra)
    result = CliRunner().invoke(main, ["--root", str(root), "mail", "test", "you@org-a.example"])
    assert result.exit_code == 1
    for key in ("mail.security", "mail.password_env", "mail.from_address", "mail.port"):
        assert key in result.output


# -- TLS: real certificates, checked as in production -------------------------------------------

TLS = Path(__file__).parent / "data" / "tls"  # a self-signed certificate for 127.0.0.1, for tests only


class TlsInbox(Inbox):
    """An inbox that also notes whether each message came over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        # STARTTLS sets session.ssl; a connection that was TLS from the start has an SSL transport
        self.encrypted.append(session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None)
        return await super().handle_DATA(server, session, envelope)


def server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    return context


@pytest.fixture
def trusted(monkeypatch):  # type: ignore[no-untyped-def]
    """The test certificate is trusted, as a real server's is through the system's CAs."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))


def send_test(tmp_path: Path, port: int, security: str):  # type: ignore[no-untyped-def]
    section = mail_section(port).replace('security = "none"', f'security = "{security}"')
    root = make_root(tmp_path / f"kb-{security}", section)
    return CliRunner().invoke(main, ["--root", str(root), "mail", "test", "you@org-a.example"])


def send_over_tls(tmp_path: Path, security: str, **server: Any):  # type: ignore[no-untyped-def]
    """`kb mail test` through a TLS server on 127.0.0.1 (aiosmtpd options `server`): (result, inbox, port)."""
    inbox = TlsInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **server)
    controller.start()
    try:
        return send_test(tmp_path, controller.port, security), inbox, controller.port
    finally:
        controller.stop()


def test_starttls_upgrades_the_connection_before_the_message(tmp_path, trusted):
    result, inbox, _ = send_over_tls(tmp_path, "starttls", tls_context=server_context(), require_starttls=True)
    assert result.exit_code == 0, result.output
    assert inbox.encrypted == [True] and len(inbox.to("you@org-a.example")) == 1


def test_tls_from_the_first_byte(tmp_path, trusted):
    result, inbox, _ = send_over_tls(tmp_path, "tls", ssl_context=server_context())
    assert result.exit_code == 0, result.output
    assert inbox.encrypted == [True] and len(inbox.to("you@org-a.example")) == 1


def test_a_certificate_nobody_vouches_for_is_refused_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-file.pem"))  # the test CA is not trusted
    result, inbox, port = send_over_tls(tmp_path, "tls", ssl_context=server_context())
    assert result.exit_code == 1 and inbox.messages == []
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: cannot send through 127.0.0.1:{port}") and "CERTIFICATE_VERIFY_FAILED" in line


def test_starttls_to_a_server_without_it_is_refused_not_sent_in_clear(tmp_path, smtp):
    inbox, port = smtp
    result = send_test(tmp_path, port, "starttls")
    assert result.exit_code == 1 and inbox.messages == []
    assert "does not offer starttls" in result.output and "check mail.security" in result.output
