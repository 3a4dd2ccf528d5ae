"""The email outbox (CONTRACT section 3, Email): each email is a row of `email_outbox`, written
in the transaction that causes it, and sent by the push worker (services/api/push_worker/
mailer.py). The row holds the whole message, rendered here in the account's language (plain
text and HTML), with its link: `PUBLIC_BASE_URL` + the page's path + `?token=<token>`.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import uuid
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import jinja2

from services.api.email.texts import APP_NAME, TEXTS
from services.api.email.tokens import Kind, issue_token
from services.api.web.languages import Language
from shared.settings import Settings

# The account page each kind of link opens (CONTRACT section 7).
PAGES: dict[Kind, str] = {
    "verify": "/account/verify",
    "reset": "/account/reset",
    "delete": "/account/delete",
}
# CRLF lines, and non-ASCII text in quoted-printable or base64: the message is plain ASCII, as
# any SMTP server (with or without 8BITMIME) and an .eml file take it.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def link_to(settings: Settings, kind: Kind, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}{PAGES[kind]}?token={token}"


def render_message(
    settings: Settings,
    *,
    message_id: uuid.UUID,
    recipient: str,
    kind: Kind,
    language: Language,
    link: str,
) -> str:
    """The RFC 5322 message, plain text with an HTML alternative."""
    text = TEXTS[language][kind]
    context = {"text": text, "link": link, "language": language, "app_name": APP_NAME[language]}
    message = EmailMessage(policy=_POLICY)
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = text["subject"]
    message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
    domain = email.utils.parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{message_id}@{domain}>"
    message.set_content(_TEMPLATES.get_template("email.txt").render(context))
    message.add_alternative(_TEMPLATES.get_template("email.html").render(context), subtype="html")
    message["Content-Language"] = language  # after the content, which clears Content-*
    return message.as_string()


async def send_link(
    conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID, kind: Kind
) -> bool:
    """Issue a new token of this kind for the account (voiding the last one) and put the email
    carrying its link in the outbox; call it in the transaction that causes the email. An
    older email of the same kind still waiting is dropped: its link no longer works. False
    when the account does not exist."""
    account = await conn.fetchrow(
        "SELECT email, language FROM users WHERE id = $1 FOR SHARE", user_id
    )
    if account is None:
        return False
    token, expires_at = await issue_token(conn, user_id, kind)
    await conn.execute(
        """DELETE FROM email_outbox
           WHERE user_id = $1 AND kind = $2 AND state = 'pending'
             AND (lease_until IS NULL OR lease_until <= now())""",
        user_id,
        kind,
    )
    message_id = uuid.uuid4()
    message = render_message(
        settings,
        message_id=message_id,
        recipient=account["email"],
        kind=kind,
        language=account["language"],
        link=link_to(settings, kind, token),
    )
    await conn.execute(
        """INSERT INTO email_outbox (id, user_id, kind, recipient, message, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        message_id,
        user_id,
        kind,
        account["email"],
        message,
        expires_at,
    )
    return True
