"""A small place's read-model rows, in memory, for the open-data builders' unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import (
    Allocation,
    ClaimPeriodTerms,
    Contract,
    ContractTerms,
    EvidenceBatch,
    MetricPrice,
    MetricTerms,
    PayerTerms,
    Payment,
    PlaceData,
    Publisher,
    Recovery,
    Reservation,
    StreamShare,
)

MOMENT = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
RECOVERED_AT = MOMENT + timedelta(days=20)


def allocation(allocation_id: str, status: str = "funded", **changes: object) -> Allocation:
    values: dict[str, object] = {
        "allocation_id": allocation_id,
        "allocation_type": "grant",
        "recipient_id": "PROV-HUBS",
        "purpose": "Family hubs in Salford",
        "mission_id": "M-HEALTHY-LIVES",
        "start_date": date(2026, 5, 1),
        "end_date": date(2028, 3, 31),
        "value_pence": 12_345_678_90,
        "financial_year": "2026-27",
        "status": status,
        "funded_pence": 12_345_678_90 if status != "proposed" else 0,
        "updated_at": MOMENT,
    }
    values.update(changes)
    return Allocation(**values)  # type: ignore[arg-type]


GMCA = Organisation(
    "GM",
    "combined_authority",
    "Greater Manchester Combined Authority",
    "public_body",
    "GB-LAE",
    "GMCA",
    "M1 6EU",
)
REGISTER = {
    "PROV-HUBS": Organisation(
        "PROV-HUBS",
        "provider",
        "Salford Family Hubs Trust",
        "charity",
        "GB-CHC",
        "1234567",
        "M5 4WT",
        is_sme=True,
        is_vcse=True,
    ),
    "PROV-WORKWELL": Organisation(
        "PROV-WORKWELL",
        "provider",
        "WorkWell Employment CIC",
        "social_enterprise",
        "GB-COH",
        "09876543",
        "M4 5JD",
        is_sme=True,
        is_vcse=True,
    ),
    "DWP": Organisation(
        "DWP", "department", "Department for Work and Pensions", "public_body", "GB-GOR", "D10"
    ),
    "DHSC": Organisation(
        "DHSC",
        "department",
        "Department of Health and Social Care",
        "public_body",
        "GB-GOR",
        "D12",
    ),
}
PUBLISHER = Publisher(
    "GM", GMCA, "360G-gmca", "ocds-gmca01", "https://www.greatermanchester-ca.gov.uk/open-data"
)


def sample() -> PlaceData:
    return PlaceData(
        place_id="GM",
        publisher=PUBLISHER,
        organisations=REGISTER,
        mission_titles={"M-HEALTHY-LIVES": "Healthy lives for every family"},
        allocations=(
            allocation("A-1"),
            allocation(
                "A-2",
                allocation_type="outcomes_contract",
                recipient_id="PROV-WORKWELL",
                purpose="Supported employment for people out of work with a health condition",
                value_pence=1_500_000_00,
                funded_pence=1_500_000_00,
            ),
            allocation("A-3", status="proposed"),
            allocation("A-4", status="cancelled"),
        ),
        reservations={
            "A-1": Reservation(
                "A-1",
                "2026-27",
                12_345_678_90,
                0,
                (
                    StreamShare("DHSC", "PUBLIC-HEALTH", 4_115_226_30),
                    StreamShare("DWP", "WORK-AND-HEALTH", 8_230_452_60),
                ),
            ),
            "A-2": Reservation(
                "A-2",
                "2026-27",
                1_500_000_00,
                0,
                (StreamShare("DWP", "WORK-AND-HEALTH", 1_500_000_00),),
            ),
        },
        contracts=(
            Contract(
                "C-1",
                "A-2",
                "PROV-WORKWELL",
                (
                    MetricPrice("JOB-START", 1_200_00, 600_000_00, "DWP"),
                    MetricPrice("SUSTAINED-26-WEEKS", 3_500_00, 900_000_00, "DWP"),
                ),
                1_500_000_00,
                MOMENT,
                ContractTerms(
                    payers=(PayerTerms("DWP", 1_400_000_00),),
                    metrics=(
                        MetricTerms(
                            "JOB-START",
                            "Started paid work of 16 hours a week or more",
                            "Out of work with a health condition",
                            400,
                            "Simple ex-post verification",
                        ),
                        MetricTerms("SUSTAINED-26-WEEKS", "In work for 26 weeks", None, 250),
                    ),
                    start_date=date(2026, 6, 1),
                    end_date=date(2028, 3, 31),
                    claim_periods=(
                        ClaimPeriodTerms(
                            "Q2", date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 31), 5_000_00
                        ),
                        ClaimPeriodTerms("Q3", date(2026, 10, 1), date(2026, 12, 31)),
                    ),
                ),
                frozenset({"Q2"}),
            ),
        ),
        evidence=(EvidenceBatch("C-1", "B-2026-09", "verified", 3, 3, 3, 5_900_00, MOMENT),),
        payments=(
            Payment(
                "P-1",
                "A-1",
                "PROV-HUBS",
                None,
                None,
                1_000_000_01,
                "grant_instalment",
                "made",
                0,
                MOMENT,
            ),
            Payment(
                "P-2",
                "A-2",
                "PROV-WORKWELL",
                "C-1",
                "B-2026-09",
                5_900_00,
                "outcome_payment",
                "made",
                1_200_00,
                MOMENT,
            ),
            Payment(
                "P-3",
                "A-2",
                "PROV-WORKWELL",
                "C-1",
                None,
                99_00,
                "outcome_payment",
                "rejected",
                0,
                MOMENT,
            ),
        ),
        recoveries=(Recovery("K-1", "C-1", "P-2", "JOB-START", "Q2", 1_200_00, RECOVERED_AT),),
    )
