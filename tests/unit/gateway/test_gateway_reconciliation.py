"""The pure parts of reconciliation and of copying the ledger's amounts: which ledger accounts
each read-model figure mirrors, and how events of older ledgers (without per-stream amounts)
are still read."""

from __future__ import annotations

from contracts import AttributionShare, ReservationReleased, VirementRecorded
from services.gateway.projections import domain
from services.gateway.projections.reconciliation import ReadModels, reconcile_place

YEAR = "2026-27"

# A place after: DWP/WORK settled 1,000 (600 received), 400 reserved for A-1 of which 150 paid
# to PROV-1 and 20 recovered back into the pot.
LEDGER = [
    {"financial_year": YEAR, "account": "pot:DWP:WORK", "balance_pence": 1_000 - 400 + 20},
    {"financial_year": YEAR, "account": "settlement:DWP:WORK", "balance_pence": -(1_000 - 600)},
    {"financial_year": YEAR, "account": "received:DWP:WORK", "balance_pence": -600},
    {"financial_year": YEAR, "account": "commitment:A-1:DWP:WORK", "balance_pence": 400 - 150},
    {"financial_year": YEAR, "account": "provider:PROV-1", "balance_pence": 150 - 20},
]


def read_models(**changes: int) -> ReadModels:
    pot = {
        "financial_year": YEAR,
        "department_code": "DWP",
        "funding_stream_code": "WORK",
        "settled_pence": 1_000,
        "received_pence": 600,
        "reserved_pence": 400,
        "paid_pence": 150,
        "available_pence": 620,
    }
    pot.update({name: value for name, value in changes.items() if name in pot})
    return ReadModels(
        pot_streams=[pot],
        allocations_reserved=[{"allocation_id": "A-1", "reserved_pence": 250}],
        providers_net=[{"provider_id": "PROV-1", "net_pence": 130}],
        departments_net=[{"department_code": "DWP", "financial_year": YEAR, "net_pence": 130}],
        spend_net=[{"financial_year": YEAR, "net_pence": changes.get("spend_pence", 130)}],
    )


def test_read_models_that_copy_the_ledger_reconcile_with_no_difference() -> None:
    result = reconcile_place("GM", LEDGER, read_models())
    assert result.differences == []
    # pot: available, owed, received, committed; allocation; provider; department; spend.
    assert result.figures_checked == 8


def test_each_difference_names_the_read_model_the_account_and_both_figures() -> None:
    result = reconcile_place("GM", LEDGER, read_models(available_pence=617, spend_pence=131))
    assert [difference.sentence() for difference in result.differences] == [
        "GM 2026-27 pot pot:DWP:WORK: ledger 620 pence, read model 617 pence (off by -3)",
        "GM 2026-27 spend net spend: ledger 130 pence, read model 131 pence (off by +1)",
    ]


def test_a_figure_only_one_side_has_is_a_difference_against_zero() -> None:
    result = reconcile_place("GM", LEDGER[:1], ReadModels())
    assert [(d.account, d.ledger_pence, d.read_model_pence) for d in result.differences] == [
        ("DWP net spend", -620, 0),
        ("pot:DWP:WORK", 620, 0),
    ]


def shares(*amounts: tuple[str, str, int]) -> tuple[AttributionShare, ...]:
    return tuple(
        AttributionShare(department_code=d, funding_stream_code=s, amount_pence=a)
        for d, s, a in amounts
    )


def test_an_older_ledgers_release_without_shares_is_still_read_and_split_by_the_mix() -> None:
    old = ReservationReleased.model_validate(
        {
            "place_id": "GM",
            "allocation_id": "A-1",
            "amount_pence": 301,
            "reason": "cancelled",
            "transfer_id": "T-1",
        }
    )
    assert old.attribution is None and old.financial_year is None
    mix = shares(("DWP", "WORK", 2_000), ("DHSC", "HEALTH", 1_000))
    split = domain.release_shares_of_older_ledger(mix, old.amount_pence)
    assert [(s.department_code, s.amount_pence) for s in split] == [("DWP", 201), ("DHSC", 100)]


def test_a_release_moves_each_streams_share_from_reserved_to_available_exactly() -> None:
    changes = domain.released("GM", YEAR, shares(("DWP", "WORK", 7), ("DHSC", "HEALTH", 3)))
    assert [(c.department_code, c.reserved_pence, c.available_pence) for c in changes] == [
        ("DWP", -7, 7),
        ("DHSC", -3, 3),
    ]


def test_a_virement_moves_each_departments_share_between_its_own_streams() -> None:
    virement = VirementRecorded(
        place_id="GM",
        virement_id="V-1",
        financial_year=YEAR,
        from_funding_stream_code="CORE",
        to_funding_stream_code="SKILLS",
        amount_pence=10,
        approval_reference="BOARD-1",
        transfer_id="T-V",
        attribution=shares(("DWP", "CORE", 6), ("MHCLG", "CORE", 4)),
    )
    moved = [
        (c.department_code, c.funding_stream_code, c.available_pence)
        for c in domain.vired(virement)
    ]
    assert moved == [
        ("DWP", "CORE", -6),
        ("DWP", "SKILLS", 6),
        ("MHCLG", "CORE", -4),
        ("MHCLG", "SKILLS", 4),
    ]
    older = virement.model_copy(update={"attribution": None})
    assert domain.vired(older) == []
