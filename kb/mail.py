"""Email through a real SMTP server (config.toml's `[mail]`), with smtplib.

`compose` makes a message with a plain-text part and an HTML alternative; `send` delivers it
over `starttls`, `tls` (TLS from the first byte) or `none`, with `mail.timeout` on every step,
signing in as `mail.user` with the password in the environment variable `mail.password_env`
names. Mail is off while `mail.host` is empty (`MailOff`); any failure is one sentence
(`MailError`), never a traceback.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from kb.config import MailSettings
from kb.errors import KbError


class MailOff(KbError):
    """Email is off: config.toml's [mail] has no host."""

    def __init__(self) -> None:
        super().__init__("email is off: set host (and from_address) under [mail] in config.toml")


class MailError(KbError):
    """The message could not be handed to the SMTP server."""


def compose(
    settings: MailSettings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A message from `mail.from_address` to `to`: plain text, with `html` as the alternative."""
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = settings.from_address.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _password(settings: MailSettings, env: Mapping[str, str]) -> str | None:
    if not settings.user:
        return None
    if not settings.password_env:
        raise MailError("mail.user is set but mail.password_env is not: name the environment variable of the password")
    password = env.get(settings.password_env)
    if not password:
        raise MailError(f"the environment variable {settings.password_env} (mail.password_env) is not set")
    return password


def check(settings: MailSettings) -> None:
    """Raise `MailOff` when mail is off, `MailError` when it cannot work as configured."""
    if not settings.enabled:
        raise MailOff()
    if not settings.from_address:
        raise MailError("mail.from_address is empty: set the sender's address under [mail] in config.toml")


def send(settings: MailSettings, message: EmailMessage, env: Mapping[str, str] | None = None) -> None:
    """Hand `message` to the SMTP server; raises `MailOff` or `MailError` (one sentence)."""
    check(settings)
    password = _password(settings, os.environ if env is None else env)
    where = f"{settings.host}:{settings.port}"
    context = ssl.create_default_context()
    try:
        if settings.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if password is not None:
                smtp.login(settings.user, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"{where} refused the sign-in as {settings.user} ({_reply(exc)})") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"{where} does not offer {settings.security} ({exc}); check mail.security") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"{where} refused the address {message['To']}") from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"{where} refused the message ({_reply(exc)})") from exc
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise MailError(f"cannot send through {where} ({exc or type(exc).__name__})") from exc
    if refused:
        raise MailError(f"{where} refused the address {', '.join(refused)}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()
