"""Outgoing email: SMTP in production, the log in development.

Senders depend on the `Mailer` protocol only; `build_mailer` picks the implementation from the
settings once at start-up.
"""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal, Protocol, Self

import aiosmtplib
import structlog
from pydantic import SecretStr

from tenantry.core.settings import Environment, Settings


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    async def send(self, message: OutgoingEmail) -> None:
        """Deliver the message or raise `EmailDeliveryFailed`."""
        ...


class EmailDeliveryFailed(Exception):
    """The message was not handed over to the mail server; the caller decides what follows."""


def _one_line(value: str) -> str:
    # A header is one line. The email package refuses any value that str.splitlines() would
    # split (vertical tab, U+2028 and the like, not only CR and LF); subjects carry the tenant's
    # display name, which is free text.
    return " ".join(value.splitlines())


def build_message(message: OutgoingEmail, *, sender: str) -> EmailMessage:
    """The MIME message for `message`: plain text, with an HTML alternative when given.

    Line breaks in the subject become spaces; any other header value the email package refuses
    raises ValueError.
    """
    built = EmailMessage()
    built["From"] = sender
    built["To"] = message.to
    built["Subject"] = _one_line(message.subject)
    built["Date"] = formatdate(usegmt=True)
    # The sender's domain, not socket.getfqdn(): that does a DNS lookup per message and would
    # leak the pod's host name into every Message-ID.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    built["Message-ID"] = make_msgid(domain=domain)
    built.set_content(message.text)
    if message.html is not None:
        built.add_alternative(message.html, subtype="html")
    return built


@dataclass(frozen=True)
class SmtpMailer:
    """Delivers over SMTP with aiosmtplib, one connection per message."""

    host: str
    port: int
    sender: str
    tls: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None  # SecretStr keeps it out of reprs and tracebacks
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """An SMTP mailer from `TENANTRY_SMTP_*`; needs `smtp_host`."""
        if settings.smtp_host is None:
            raise ValueError("TENANTRY_SMTP_HOST is not set")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
        )

    async def send(self, message: OutgoingEmail) -> None:
        """Hand the message to the server; raise `EmailDeliveryFailed` if it is not accepted."""
        try:
            built = build_message(message, sender=self.sender)
        except ValueError as exc:
            # Senders run after the response (background tasks): only this error is caught there.
            raise EmailDeliveryFailed(f"the message could not be built: {exc}") from exc
        try:
            await aiosmtplib.send(
                built,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password.get_secret_value() if self.password else None,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # aiosmtplib's messages hold the server's reply, never the credentials.
            raise EmailDeliveryFailed(
                f"SMTP delivery via {self.host}:{self.port} failed: {exc}"
            ) from exc


class LogMailer:
    """Development fallback: writes each message to the log instead of sending it."""

    def __init__(self) -> None:
        self._log = structlog.get_logger(__name__)

    async def send(self, message: OutgoingEmail) -> None:
        """Log recipient, subject and text body (which carries any link a developer needs)."""
        self._log.info("email.logged", to=message.to, subject=message.subject, text=message.text)


def build_mailer(settings: Settings) -> Mailer:
    """SMTP when a host is configured; the log otherwise, which production refuses."""
    if settings.smtp_host is not None:
        return SmtpMailer.from_settings(settings)
    if settings.env is Environment.PRODUCTION:
        raise RuntimeError(
            "TENANTRY_SMTP_HOST is required in production: without it, verification, "
            "password-reset and invitation emails would be written to the log, not sent"
        )
    return LogMailer()
