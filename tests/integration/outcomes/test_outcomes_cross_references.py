"""Finding 7 of issue 14: a contract naming another place's allocation is refused, naming the
place it belongs to; the same id once known in the contract's own place is accepted."""

from __future__ import annotations

import pytest

from contracts.decisions import CommandRefused
from contracts.outcomes import OutcomesContractRegistered
from tests.integration.outcomes.outcomes_support import funded, harness, register

pytestmark = pytest.mark.integration


def _in_place(place_id: str, events: list) -> list:
    return [event.model_copy(update={"place_id": place_id}) for event in events]


async def test_a_contract_on_another_places_allocation_is_refused(database_url) -> None:
    async with harness(database_url) as outcomes:
        await outcomes.send(*_in_place("LPL", funded("A-LPL")))
        await outcomes.send(register("C-GM", allocation_id="A-LPL"))
        rejected = await outcomes.emitted(CommandRefused)
        registered = await outcomes.emitted(OutcomesContractRegistered)
        contracts = await outcomes.value("SELECT count(*) FROM contracts")

    assert [(r.rule, r.reason) for r in rejected] == [
        (
            "contract_fits_allocation",
            "allocation A-LPL belongs to LPL, not GM: a contract draws on an allocation of its "
            "own place",
        )
    ]
    assert registered == [] and contracts == 0


async def test_an_id_both_places_use_is_accepted_in_the_place_that_knows_it(database_url) -> None:
    async with harness(database_url) as outcomes:
        await outcomes.send(*_in_place("LPL", funded("A-1")), *funded("A-1"))
        await outcomes.send(register("C-GM", allocation_id="A-1"))
        registered = await outcomes.emitted(OutcomesContractRegistered)
    assert [r.contract_id for r in registered] == ["C-GM"]
