"""OCDS release history: the rules for keeping a release per change to a contracting process
and for publishing the kept releases. Pure: `history_db.py` stores and reads them.

A release is kept when what OCDS would say about an outcomes contract differs from the last
release kept for it: the award (approved, varied, cancelled), the contract (signed, amended,
terminated, a milestone met) or its implementation (a payment, a recovery). Its tags name what
changed, from the OCDS 1.1.5 release tag codelist; a change to the contract's value or period
is an amendment, described in `contracts.amendments`, which later releases carry forward.

Releases are kept with placeholders for the place's identifier prefixes (`OCID_PREFIX_SLOT`,
`GRANT_PREFIX_SLOT`): `identified` fills them in when publishing, so a place that registers
its prefixes after its first releases keeps its history under its own ocids.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.gateway.opendata import ocds
from services.gateway.opendata.publishing import (
    Allocation,
    JsonObject,
    PlaceData,
    Publisher,
    datetime_text,
    placeholder_organisation,
)

# Characters no identifier prefix or place id can hold (identifiers are checked on the way in).
OCID_PREFIX_SLOT = "⟨ocid-prefix⟩"
GRANT_PREFIX_SLOT = "⟨grant-prefix⟩"
# What a release says only about itself: left out when two releases are compared.
OWN_FIELDS = ("id", "date", "tag")
# Moments the read models stamp when they handle an event (see `digest`).
HANDLING_STAMPS = frozenset({"date", "dateSigned", "dateModified", "dateMet"})
TERMINATED = "terminated"


@dataclass(frozen=True)
class KeptRelease:
    """A release as kept: its process (allocation), its number in that process's history, when
    it was released, and the release with prefix placeholders."""

    allocation_id: str
    sequence: int
    released_at: datetime
    release: JsonObject


def unidentified(data: PlaceData) -> PlaceData:
    """The place's data with its identifier prefixes left as placeholders, so the releases kept
    do not depend on the prefixes in force (the register's names and org-ids do belong to the
    release: a release says what was known when it was made)."""
    authority = data.organisations.get(data.place_id) or placeholder_organisation(
        data.place_id, "combined_authority", GRANT_PREFIX_SLOT
    )
    neutral = Publisher(data.place_id, authority, GRANT_PREFIX_SLOT, OCID_PREFIX_SLOT)
    return replace(data, publisher=neutral)


def current_content(data: PlaceData, allocation: Allocation) -> JsonObject:
    """What OCDS would say about the process now, without the release's own id, date and tag
    (and without amendments, which only the history knows)."""
    found = ocds.release(unidentified(data), allocation)
    for name in OWN_FIELDS:
        found.pop(name, None)
    return found


def digest(content: JsonObject) -> str:
    """A content's SHA-256 over its canonical JSON, amendments and handling stamps left out:
    equal content, equal digest, whatever the key order. Some moments (a contract's
    `dateSigned`, a milestone's `dateModified`, a transaction's `date`) are stamped by the read
    models when they handle an event, so a rebuild's replay stamps them anew; a change to one
    of them alone is not a change to the process, and the release kept keeps the first."""
    bare = _without_stamps(_without_amendments(content))
    canonical = json.dumps(bare, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def next_release(
    previous: KeptRelease | None, content: JsonObject, sequence: int, released_at: datetime
) -> JsonObject:
    """The release to keep after `previous` (None: the process's first): the content with its
    id, date and tags, and the contract's amendments so far (one more if this is one)."""
    # Shallow copies of what this changes (the top level and the contract that takes the
    # amendments): a whole process's content is thousands of transactions deep, and the caller's
    # content is left as it was.
    release = dict(content)
    if "contracts" in release:
        release["contracts"] = [dict(contract) for contract in release["contracts"]]
    release_id = f"{release['ocid']}-{sequence:04d}"
    tags = change_tags(previous.release if previous else None, content)
    amendments = _amendments(previous.release) if previous else []
    if "contractAmendment" in tags and previous is not None:
        amendments.append(_amendment(previous, content, release_id, released_at))
    if amendments:
        release["contracts"][0]["amendments"] = amendments
    return {
        "ocid": release.pop("ocid"),
        "id": release_id,
        "date": datetime_text(released_at),
        "tag": tags,
        **release,
    }


def change_tags(previous: JsonObject | None, current: JsonObject) -> list[str]:
    """The OCDS release tags for a change from `previous` to `current` (codelist releaseTag)."""
    if previous is None:
        tags = ["tender", "award", "contract"]
        if _implementation(current):
            tags.append("implementation")
        if _contract_status(current) == TERMINATED:
            tags.append("contractTermination")
        return tags
    tags = []
    if previous.get("awards") != current.get("awards"):
        cancelled = _award_status(current) == "cancelled" != _award_status(previous)
        tags.append("awardCancellation" if cancelled else "awardUpdate")
    if _contract_terms(previous) != _contract_terms(current):
        if _contract_status(current) == TERMINATED != _contract_status(previous):
            tags.append("contractTermination")
        elif _value_and_period(previous) != _value_and_period(current):
            tags.append("contractAmendment")
        else:
            tags.append("contractUpdate")
    if _implementation(previous) != _implementation(current):
        tags.append("implementationUpdate" if _implementation(previous) else "implementation")
    # A change only to the parties (a name registered, an address) updates the contract's.
    return tags or ["contractUpdate"]


def identified(kept: KeptRelease, identity: Publisher) -> JsonObject:
    """A kept release as published: the place's own prefixes in place of the placeholders."""
    text = json.dumps(kept.release, ensure_ascii=False)
    text = text.replace(OCID_PREFIX_SLOT, identity.ocid_prefix)
    text = text.replace(GRANT_PREFIX_SLOT, identity.grant_prefix)
    published: JsonObject = json.loads(text)
    return published


def last_released(kept: list[KeptRelease], otherwise: datetime) -> datetime:
    """An OCDS package's publication date: its latest release's (the read models' own moments
    are stamped anew by a rebuild; the kept releases are not)."""
    return max((k.released_at for k in kept), default=otherwise)


def release_package_of(
    data: PlaceData, kept: list[KeptRelease], published_at: datetime, uri: str
) -> JsonObject:
    """Every kept release of the place's outcomes contracts, oldest first per process."""
    package = ocds.package_frame(data, published_at, uri)
    package["releases"] = [identified(release, data.identity()) for release in kept]
    return package


def _contract(release: JsonObject) -> JsonObject:
    contracts: list[JsonObject] = release.get("contracts") or [{}]
    return contracts[0]


def _contract_terms(release: JsonObject) -> JsonObject:
    return {
        k: v for k, v in _contract(release).items() if k not in ("implementation", "amendments")
    }


def _contract_status(release: JsonObject) -> Any:
    return _contract(release).get("status")


def _award_status(release: JsonObject) -> Any:
    awards: list[JsonObject] = release.get("awards") or [{}]
    return awards[0].get("status")


def _implementation(release: JsonObject) -> Any:
    return _contract(release).get("implementation")


def _value_and_period(release: JsonObject) -> tuple[Any, Any]:
    contract = _contract(release)
    return contract.get("value"), contract.get("period")


def _amendments(release: JsonObject) -> list[JsonObject]:
    found: list[JsonObject] = copy.deepcopy(_contract(release).get("amendments", []))
    return found


def _without_stamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_stamps(v) for k, v in value.items() if k not in HANDLING_STAMPS}
    if isinstance(value, list):
        return [_without_stamps(item) for item in value]
    return value


def _without_amendments(content: JsonObject) -> JsonObject:
    """The content without its contracts' amendments (shallow: `_without_stamps` copies)."""
    contracts = [
        {k: v for k, v in contract.items() if k != "amendments"}
        for contract in content.get("contracts", [])
    ]
    return {**content, "contracts": contracts} if "contracts" in content else content


def _amendment(
    previous: KeptRelease, content: JsonObject, release_id: str, released_at: datetime
) -> JsonObject:
    """An amendment to the contract's value or period, described with both figures."""
    was_value, was_period = _value_and_period(previous.release)
    now_value, now_period = _value_and_period(content)
    changes = []
    if was_value != now_value:
        changes.append(f"value from £{was_value['amount']:,.2f} to £{now_value['amount']:,.2f}")
    if was_period != now_period:
        changes.append(
            f"period from {was_period['startDate']} – {was_period['endDate']} to "
            f"{now_period['startDate']} – {now_period['endDate']}"
        )
    return {
        "id": f"{release_id}-amendment",
        "date": datetime_text(released_at),
        "rationale": "The board varied the allocation that funds the contract",
        "description": f"Contract {'; '.join(changes)}",
        "amendsReleaseID": previous.release["id"],
        "releaseID": release_id,
    }
