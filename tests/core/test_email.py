import logging
import time
import uuid
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from tenantry.core.email import (
    EmailDeliveryFailed,
    LogMailer,
    OutgoingEmail,
    SmtpMailer,
    build_mailer,
)
from tenantry.core.settings import Environment, Settings
from tests.fixtures.smtp import SmtpSink, _free_port


def unique_address() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def sink_mailer(sink: SmtpSink) -> SmtpMailer:
    settings = Settings(
        env=Environment.TEST,
        smtp_host=sink.host,
        smtp_port=sink.port,
        smtp_tls="none",
        smtp_sender="Tenantry <no-reply@tenantry.example>",
    )
    mailer = build_mailer(settings)
    assert isinstance(mailer, SmtpMailer)
    return mailer


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Let info events through whatever level an earlier test configured, then restore it."""
    saved = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(
            wrapper_class=saved["wrapper_class"],
            cache_logger_on_first_use=saved["cache_logger_on_first_use"],
        )


async def test_smtp_mailer_delivers_text_and_html(smtp_sink: SmtpSink) -> None:
    to = unique_address()
    message = OutgoingEmail(
        to=to, subject="Reset your password", text="Open https://x/reset", html="<p>Open</p>"
    )

    await sink_mailer(smtp_sink).send(message)

    received = await smtp_sink.wait_for(to)
    assert received["To"] == to
    assert received["From"] == "Tenantry <no-reply@tenantry.example>"
    assert received["Subject"] == "Reset your password"
    assert received["Date"] is not None
    assert str(received["Message-ID"]).endswith("@tenantry.example>")
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Open https://x/reset"
    assert html.get_content().strip() == "<p>Open</p>"


async def test_text_only_message_is_not_multipart(smtp_sink: SmtpSink) -> None:
    to = unique_address()

    await sink_mailer(smtp_sink).send(OutgoingEmail(to=to, subject="Hi", text="Plain only"))

    received = await smtp_sink.wait_for(to)
    assert received.get_content_type() == "text/plain"
    assert received.get_content().strip() == "Plain only"


async def test_wait_for_takes_messages_in_order_and_times_out(smtp_sink: SmtpSink) -> None:
    to = unique_address()
    mailer = sink_mailer(smtp_sink)
    await mailer.send(OutgoingEmail(to=to, subject="first", text="1"))
    await mailer.send(OutgoingEmail(to=to, subject="second", text="2"))

    assert (await smtp_sink.wait_for(to))["Subject"] == "first"
    assert (await smtp_sink.wait_for(to))["Subject"] == "second"
    with pytest.raises(AssertionError, match="no email"):
        await smtp_sink.wait_for(to, timeout=0.1)


# Every character str.splitlines() breaks at: the email package refuses each in a header value.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize("line_break", list(LINE_BREAKS))
async def test_a_line_break_in_the_subject_becomes_a_space(
    smtp_sink: SmtpSink, line_break: str
) -> None:
    # Subjects name the tenant, whose display name is free text (found by the control plane's
    # fuzzer: a vertical tab raised ValueError in a background task and the email was lost).
    to = unique_address()
    subject = f"Invited to Acme{line_break}Bcc: victim@example.com"

    await sink_mailer(smtp_sink).send(OutgoingEmail(to=to, subject=subject, text="t"))

    received = await smtp_sink.wait_for(to)
    assert received["Subject"] == "Invited to Acme Bcc: victim@example.com"
    assert received["Bcc"] is None


async def test_a_message_that_cannot_be_built_is_a_delivery_failure() -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=_free_port(), sender="no-reply@localhost")

    message = OutgoingEmail(to="a@example.com\nBcc: b@example.com", subject="s", text="t")

    with pytest.raises(EmailDeliveryFailed, match="could not be built"):
        await mailer.send(message)


@pytest.mark.usefixtures("info_logs")
async def test_log_mailer_logs_the_message() -> None:
    with capture_logs() as logs:
        await LogMailer().send(OutgoingEmail(to="a@example.com", subject="Welcome", text="Hello"))

    assert logs == [
        {
            "event": "email.logged",
            "log_level": "info",
            "to": "a@example.com",
            "subject": "Welcome",
            "text": "Hello",
        }
    ]


async def test_unreachable_server_raises_delivery_failed_quickly() -> None:
    mailer = SmtpMailer(
        host="127.0.0.1",
        port=_free_port(),
        sender="no-reply@localhost",
        tls="none",
        username="mailer",
        password=SecretStr("smtp-password-never-shown"),
        timeout=2,
    )
    started = time.monotonic()

    with pytest.raises(EmailDeliveryFailed) as raised:
        await mailer.send(OutgoingEmail(to="a@example.com", subject="s", text="t"))

    assert time.monotonic() - started < 2
    assert "smtp-password-never-shown" not in str(raised.value)
    assert "smtp-password-never-shown" not in repr(mailer)


def test_build_mailer_falls_back_to_the_log_outside_production() -> None:
    assert isinstance(build_mailer(Settings(env=Environment.DEVELOPMENT)), LogMailer)
    assert isinstance(build_mailer(Settings(env=Environment.TEST)), LogMailer)


def test_build_mailer_refuses_production_without_smtp_host() -> None:
    settings = Settings(
        env=Environment.PRODUCTION,
        database_url="postgresql://db/tenantry",
        signing_keys=[SecretStr("key")],
        public_url="https://tenantry.example",
    )

    with pytest.raises(RuntimeError, match="TENANTRY_SMTP_HOST"):
        build_mailer(settings)
