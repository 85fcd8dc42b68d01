"""Email over SMTP (aiosmtplib): a page as a multipart message, plain text and HTML.

`LOOKOUT_SMTP_URL` says where and how: `smtp://user:password@mail.example.com:587?from=
lookout@example.com` (STARTTLS when the server offers it; `?starttls=require` insists,
`?starttls=off` never), or `smtps://…:465` (TLS from the first byte). User and password
are percent-decoded.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from integrations.sending import SendError


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool | None = None  # None: when offered

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Raises ValueError for a URL that is not smtp:// or smtps:// with a host."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("LOOKOUT_SMTP_URL must look like smtp://user:pass@host:587?from=…")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        mode = query.get("starttls", "auto").lower()
        starttls = {"auto": None, "require": True, "true": True, "off": False, "false": False}
        if mode not in starttls:
            raise ValueError("starttls= takes auto, require or off")
        sender = query.get("from") or f"lookout@{parts.hostname}"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=None if implicit else starttls[mode],
        )


def message(*, sender: str, to: str, subject: str, text: str, html_body: str) -> EmailMessage:
    """A multipart/alternative message: the text first, the HTML as the richer part."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(text)
    mail.add_alternative(html_body, subtype="html")
    return mail


def html_page(title: str, lines: list[str], link: tuple[str, str] | None = None) -> str:
    """A small HTML body; every value is escaped."""
    items = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    anchor = (
        f'<p><a href="{html.escape(link[0], quote=True)}">{html.escape(link[1])}</a></p>'
        if link
        else ""
    )
    return f"<html><body><h2>{html.escape(title)}</h2>{items}{anchor}</body></html>"


class EmailSender:
    """Sends through one SMTP server. Raises SendError: permanent when the server refuses
    the recipient or the sender (5xx), transient for connection problems and 4xx."""

    def __init__(self, settings: SmtpSettings, *, timeout: float = 15.0) -> None:
        self.settings = settings
        self._timeout = timeout

    async def send(self, *, to: str, subject: str, text: str, html_body: str) -> str:
        """Send one message; returns its Message-ID."""
        mail = message(
            sender=self.settings.sender, to=to, subject=subject, text=text, html_body=html_body
        )
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.settings.host,
                port=self.settings.port,
                username=self.settings.username,
                password=self.settings.password,
                use_tls=self.settings.implicit_tls,
                start_tls=self.settings.starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise SendError(f"the mail server refused {to}: {error}", permanent=True) from error
        except aiosmtplib.SMTPResponseException as error:
            permanent = 500 <= error.code < 600
            raise SendError(
                f"the mail server answered {error.code} {error.message}", permanent=permanent
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise SendError(f"the mail server could not be reached: {error!r}") from error
        return str(mail["Message-ID"])
