"""Statuses in the words people use, as GOV.UK tags: "Awaiting verification" in blue, not
`awaiting_verification`; one table of wording and colour for every page."""

from __future__ import annotations

from markupsafe import Markup, escape

# Status → (words, GOV.UK tag colour). A status missing here reads as its words, in grey.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "receiving": ("Receiving", "light-blue"),
    "submitted": ("Submitted", "light-blue"),
    "awaiting_verification": ("Awaiting verification", "blue"),
    "awaiting_funding": ("Awaiting funding", "yellow"),
    "awaiting_sign_off": ("Awaiting sign-off", "yellow"),
    "payment_requested": ("Payment requested", "light-blue"),
    "payment_rejected": ("Payment refused", "red"),
    "held": ("Held by the verifier", "orange"),
    "verified": ("Verified", "green"),
    "paid": ("Paid", "green"),
    "made": ("Paid", "green"),
    "rejected": ("Rejected", "red"),
    "refused": ("Refused", "red"),
    "failed_verification": ("Failed verification", "red"),
    "clawed_back": ("Clawed back", "purple"),
    "accepted": ("Accepted", "turquoise"),
    "sampled": ("Sampled for verification", "blue"),
    "proposed": ("Proposed", "light-blue"),
    "approved": ("Approved", "turquoise"),
    "funded": ("Funded", "green"),
    "unfunded": ("Unfunded", "red"),
    "cancelled": ("Cancelled", "grey"),
    "expired": ("Expired", "grey"),
    "done": ("Done", "green"),
}


def status_words(status: object) -> str:
    """A status as words: "awaiting_verification" → "Awaiting verification"."""
    text = "" if status is None else str(status)
    known = STATUS_WORDS.get(text)
    if known is not None:
        return known[0]
    return text.replace("_", " ").capitalize()


def status_tag(status: object) -> Markup:
    """A status as a GOV.UK tag in its colour, for a table cell or a heading."""
    colour = STATUS_WORDS.get("" if status is None else str(status), ("", "grey"))[1]
    words = escape(status_words(status))
    return Markup(f'<strong class="govuk-tag govuk-tag--{colour}">{words}</strong>')
