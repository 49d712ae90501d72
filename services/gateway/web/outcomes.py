"""Telling a person on the page they came back to what became of the command their form sent:
a GOV.UK notification banner saying what happened, or the deciding service's reason.

A form that sends a command redirects to its page with `?command=<id>` (`sent_to`); the page
asks `command_notice` for the banner, which waits a little (`gateway_web_command_wait_s`) for
the services to decide, so most people see the outcome at once and the rest a "still being
decided" banner they can refresh.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from services.gateway import domain
from services.gateway.command_log import db
from services.gateway.command_log import status as command_status
from services.gateway.domain import Principal
from services.gateway.web.rendering import Page

Notice = dict[str, str]

# What each kind of command did, in words, for the banner when it is done.
DONE_WORDS = {
    "RecordReceipt": "The receipt was recorded in the ledger.",
    "RecordSettlement": "The settlement was recorded in the ledger.",
    "VirementRequested": "The virement was recorded in the ledger.",
    "ClosePeriod": "The financial year was closed.",
    "CastVote": "Your vote was recorded.",
    "CloseVote": "The vote was closed and the board's decision recorded.",
    "DecideAllocation": "The decision was recorded.",
    "SignOffAllocation": "Your sign-off decision was recorded.",
    "RegisterOutcomesContract": "The contract was registered.",
    "SubmitEvidence": "The evidence was received and checked.",
    "RecordVerificationDecision": "Your verification decisions were recorded.",
}


def command_id_for(principal: Principal, idempotency_key: object) -> str:
    """The id of the command a form sent under its idempotency key (as `accept` names it)."""
    return str(domain.command_event_id(principal.principal_id, str(idempotency_key)))


def sent_to(path: str, command_id: str, **query: str) -> str:
    """The page to go back to, naming the command sent so the page can tell what became of it."""
    return f"{path}?{urlencode({**query, 'command': command_id})}"


def notice_for(status: dict[str, Any], sent_words: str | None) -> Notice:
    """The banner for a command's status: success, the refusal's reason, or still deciding."""
    if status["status"] == command_status.DONE:
        made = [f"{_words(name)} {value}" for name, value in status["made"].items()]
        text = DONE_WORDS.get(status["command_type"], "It was done.")
        if made:
            text = f"{text} ({', '.join(made)})"
        return {"type": "success", "title": "Done", "text": text}
    if status["status"] == command_status.REFUSED:
        refusal = status["refusal"]
        return {
            "type": "important",
            "title": "Refused",
            "text": f"{refusal['reason']} (rule: {refusal['rule']}).",
        }
    waiting = status.get("waiting_for") or "a decision"
    words = sent_words or "It was sent."
    return {
        "type": "important",
        "title": "Sent",
        "text": f"{words} It is waiting for {waiting}: refresh this page to see the outcome.",
    }


def _words(id_field: str) -> str:
    """A field name as words: "financial_year" → "financial year", "receipt_id" → "receipt"."""
    return id_field.removesuffix("_id").replace("_", " ")


async def command_notice(
    page: Page, sent_words: str | None = None, command: str | None = None
) -> Notice | None:
    """The banner for `command`, or the command named in the page's `?command=`; None
    without one."""
    principal = page.principal
    named = command or page.request.query_params.get("command", "")
    if principal is None or not named:
        return None
    try:
        command_id = uuid.UUID(named)
    except ValueError:
        return None
    status = await _status(page, principal, command_id)
    if status is None:
        return None
    return notice_for(status, sent_words)


async def _status(page: Page, principal: Principal, command_id: uuid.UUID) -> dict[str, Any] | None:
    """The command's status once decided, or after waiting the page's bound."""
    settings = page.gateway.settings
    deadline = time.monotonic() + settings.gateway_web_command_wait_s
    while True:
        async with page.gateway.pool.acquire() as connection:
            row = await db.command_status(connection, command_id)
        if row is None or not command_status.may_read(principal, row):
            return None
        if row["status"] != command_status.ACCEPTED or time.monotonic() >= deadline:
            return row
        await asyncio.sleep(settings.gateway_command_wait_poll_interval_s)
