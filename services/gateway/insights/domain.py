"""The insights room's calculations, pure (no I/O: `db.py` loads, `api.py` and `pages.py` show).

- The liability forecast: year by year over the life of every commitment, the most the place
  may still have to pay (contract caps, planned claim periods, grant instalments), what it
  expects to pay (achieved rates so far), against the money settled for each year; and which
  proposals would push a year's liabilities past what is settled (the papers' "ten year test").
- Provider concentration: shares by provider and legal form, the HHI, small or local providers'
  share, and the providers past the place's threshold.
- The reform dividend: outcomes paid valued by the place's unit-cost table, by agency.
- A place's figures for comparison, and places compared from their open data.
README "Insights" states each figure's method."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from services.gateway.errors import GatewayError

# The per-place choice (DOMAIN.md: the papers are silent) of which figure a year is tested on.
LIABILITY_TESTS = ("maximum", "expected", "off")
DEFAULT_LIABILITY_TEST = "maximum"

# Allocations that bind the place now, and those still before the board or accounting officer.
COMMITTED_STATUSES = frozenset({"funded"})
PENDING_STATUSES = frozenset({"proposed", "approved", "awaiting_sign_off", "signed_off"})

METHOD_PLANNED = (
    "expected = remaining planned payments × the achieved rate (paid so far ÷ planned for the "
    "claim periods already due), at most 100%"
)
METHOD_NOTHING_DUE = "expected = remaining planned payments (no claim period is due yet)"
METHOD_NO_PLAN = "no claim periods planned: the remaining headroom over the remaining years"
METHOD_GRANT = "grant: the unpaid value in equal parts over its remaining financial years"


@dataclass(frozen=True)
class ClaimPeriodPlan:
    """A contract's claim period: when its claims fall due, what was planned and what it paid."""

    claim_period_id: str
    due_on: date
    planned_pence: int
    paid_pence: int = 0


@dataclass(frozen=True)
class MetricTerms:
    """A metric's price terms as the forecast needs them: its cap, its payer and what it paid."""

    metric_id: str
    cap_pence: int | None
    payer_id: str | None
    paid_pence: int = 0


@dataclass(frozen=True)
class ContractTerms:
    """An outcomes contract's caps and plan, with what it has paid so far (net of recoveries)."""

    contract_id: str
    cap_pence: int
    paid_pence: int
    metrics: tuple[MetricTerms, ...] = ()
    payer_caps: tuple[tuple[str, int | None], ...] = ()
    periods: tuple[ClaimPeriodPlan, ...] = ()
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class Commitment:
    """An allocation of the pot: committed (funded) or still proposed."""

    allocation_id: str
    allocation_type: str
    recipient_id: str
    status: str
    value_pence: int
    paid_pence: int
    start_date: date
    end_date: date
    contract: ContractTerms | None = None


@dataclass(frozen=True)
class YearFunding:
    """The pot of one financial year as the ledger's read model has it."""

    financial_year: str
    settled_pence: int = 0
    received_pence: int = 0
    paid_pence: int = 0
    available_pence: int = 0


@dataclass(frozen=True)
class Profile:
    """What one commitment may (maximum) and is expected to pay in each financial year."""

    allocation_id: str
    kind: str
    maximum: dict[str, int]
    expected: dict[str, int]
    method: str


@dataclass
class YearRow:
    """One financial year of the forecast."""

    financial_year: str
    contract_maximum_pence: int = 0
    contract_expected_pence: int = 0
    grants_due_pence: int = 0
    settled_pence: int = 0
    to_receive_pence: int = 0
    uncommitted_pence: int = 0
    cover_pence: int = 0
    flagged: bool = False
    contracts: list[str] = field(default_factory=list)

    @property
    def maximum_pence(self) -> int:
        return self.contract_maximum_pence + self.grants_due_pence

    @property
    def expected_pence(self) -> int:
        return self.contract_expected_pence + self.grants_due_pence

    def tested_pence(self, test: str) -> int:
        return self.expected_pence if test == "expected" else self.maximum_pence

    @property
    def shortfall_pence(self) -> int:
        return max(0, self.maximum_pence - self.cover_pence)


# --- Years and splits ---------------------------------------------------------------------


def financial_year_on(day: date) -> str:
    """The UK financial year (April to March) a day falls in, its first year always four
    digits (any date the API accepts, year 1 to 9999, gives a year that sorts as text)."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start:04d}-{(start + 1) % 100:02d}"


def next_financial_year(financial_year: str) -> str:
    start = int(financial_year.split("-")[0]) + 1
    return f"{start:04d}-{(start + 1) % 100:02d}"


def years_between(first: date, last: date) -> list[str]:
    """The financial years from the one holding `first` to the one holding `last`."""
    years, year, final = [], financial_year_on(first), financial_year_on(max(first, last))
    while True:
        years.append(year)
        if year == final:
            return years
        year = next_financial_year(year)


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` pence in parts proportional to `weights`, adding up exactly (largest remainder,
    earlier parts first on a tie)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    parts = [total * weight // weight_sum for weight in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for index in remainders[: total - sum(parts)]:
        parts[index] += 1
    return parts


def _evenly(total: int, years: list[str]) -> dict[str, int]:
    return dict(zip(years, split(total, [1] * len(years)), strict=True))


# --- One commitment -----------------------------------------------------------------------


def headroom(contract: ContractTerms) -> int:
    """The most a contract may still pay: the least of its contract cap, the sum of its metric
    caps (when every metric is capped) and the sum of its payer caps (when every payer is),
    each less what it has paid."""
    limits = [contract.cap_pence - contract.paid_pence]
    if contract.metrics and all(metric.cap_pence is not None for metric in contract.metrics):
        limits.append(
            sum(max(0, (metric.cap_pence or 0) - metric.paid_pence) for metric in contract.metrics)
        )
    payer_caps = dict(contract.payer_caps)
    if payer_caps and all(cap is not None for cap in payer_caps.values()):
        paid_by_payer: dict[str, int] = {}
        for metric in contract.metrics:
            if metric.payer_id is not None:
                paid_by_payer[metric.payer_id] = (
                    paid_by_payer.get(metric.payer_id, 0) + metric.paid_pence
                )
        limits.append(
            sum(
                max(0, (cap or 0) - paid_by_payer.get(payer, 0))
                for payer, cap in payer_caps.items()
            )
        )
    return max(0, min(limits))


def contract_profile(commitment: Commitment, as_of: date) -> Profile:
    """An outcomes contract's maximum and expected payments by year (methods in README)."""
    contract = commitment.contract
    assert contract is not None, "a contract profile needs the contract's terms"
    most = min(headroom(contract), max(0, commitment.value_pence - commitment.paid_pence))
    current = financial_year_on(as_of)
    future = [p for p in contract.periods if p.due_on >= as_of]
    remaining = {p.claim_period_id: max(0, p.planned_pence - p.paid_pence) for p in future}
    if sum(remaining.values()) == 0:
        end = contract.end_date or commitment.end_date
        maximum = _evenly(most, years_between(as_of, max(as_of, end)))
        return Profile(commitment.allocation_id, "contract", maximum, dict(maximum), METHOD_NO_PLAN)
    planned_by_year: dict[str, int] = {}
    for period in future:
        year = max(current, financial_year_on(period.due_on))
        planned_by_year[year] = planned_by_year.get(year, 0) + remaining[period.claim_period_id]
    years = sorted(planned_by_year)
    maximum = dict(zip(years, split(most, [planned_by_year[y] for y in years]), strict=True))
    rate, method = achieved_rate(contract, as_of)
    expected = {y: min(maximum[y], int(planned_by_year[y] * rate)) for y in years}
    return Profile(commitment.allocation_id, "contract", maximum, expected, method)


def achieved_rate(contract: ContractTerms, as_of: date) -> tuple[Fraction, str]:
    """Paid so far over what was planned for the claim periods already due (at most 1)."""
    planned_due = sum(p.planned_pence for p in contract.periods if p.due_on < as_of)
    if planned_due == 0:
        return Fraction(1), METHOD_NOTHING_DUE
    return min(Fraction(1), Fraction(contract.paid_pence, planned_due)), METHOD_PLANNED


def grant_profile(commitment: Commitment, as_of: date) -> Profile:
    unpaid = max(0, commitment.value_pence - commitment.paid_pence)
    years = years_between(max(as_of, commitment.start_date), max(as_of, commitment.end_date))
    due = _evenly(unpaid, years)
    return Profile(commitment.allocation_id, "grant", due, dict(due), METHOD_GRANT)


def profile(commitment: Commitment, as_of: date) -> Profile:
    """The commitment's profile: its contract's when it has registered terms, else as a grant
    (a partnership agreement or a contract not yet registered is paid like one)."""
    if commitment.contract is not None:
        return contract_profile(commitment, as_of)
    return grant_profile(commitment, as_of)


# --- The place ----------------------------------------------------------------------------


@dataclass
class Forecast:
    """The place's forecast: one row per financial year from the current one, the profiles
    behind it, the test applied and the years it flags."""

    as_of: date
    liability_test: str
    years: list[YearRow]
    profiles: list[Profile]

    @property
    def flagged_years(self) -> list[str]:
        return [row.financial_year for row in self.years if row.flagged]


def forecast(
    commitments: Iterable[Commitment],
    funding: Iterable[YearFunding],
    as_of: date,
    liability_test: str = DEFAULT_LIABILITY_TEST,
) -> Forecast:
    """Year by year from the current financial year: the committed allocations' maximum and
    expected payments against the money settled for the year and not yet paid out (`cover`);
    a year is flagged when the tested figure is more than its cover (never with test "off")."""
    profiles = [profile(c, as_of) for c in commitments if c.status in COMMITTED_STATUSES]
    return _forecast_of(profiles, list(funding), as_of, liability_test)


def _forecast_of(
    profiles: list[Profile], funding: list[YearFunding], as_of: date, test: str
) -> Forecast:
    current = financial_year_on(as_of)
    rows: dict[str, YearRow] = {}

    def row(year: str) -> YearRow:
        return rows.setdefault(year, YearRow(year))

    for pot in funding:
        if pot.financial_year >= current:
            year_row = row(pot.financial_year)
            year_row.settled_pence += pot.settled_pence
            year_row.to_receive_pence += pot.settled_pence - pot.received_pence
            year_row.uncommitted_pence += pot.available_pence
            year_row.cover_pence += pot.settled_pence - pot.paid_pence
    for each in profiles:
        for year, pence in each.maximum.items():
            year_row = row(year)
            if each.kind == "contract":
                year_row.contract_maximum_pence += pence
                year_row.contract_expected_pence += each.expected.get(year, 0)
                if pence:
                    year_row.contracts.append(each.allocation_id)
            else:
                year_row.grants_due_pence += pence
    for year_row in rows.values():
        year_row.flagged = test != "off" and year_row.tested_pence(test) > year_row.cover_pence
    ordered = [rows[year] for year in sorted(rows)]
    return Forecast(as_of, test, ordered, profiles)


@dataclass(frozen=True)
class ProposalFlag:
    """A proposal that would make (or deepen) a year whose liabilities exceed its cover."""

    allocation_id: str
    status: str
    value_pence: int
    years: tuple[str, ...]
    shortfall_pence: dict[str, int]


def proposal_flags(
    commitments: Sequence[Commitment],
    funding: Sequence[YearFunding],
    as_of: date,
    liability_test: str = DEFAULT_LIABILITY_TEST,
) -> list[ProposalFlag]:
    """Each pending proposal (on its own, added to what is committed) that would leave a year
    it pays into with tested liabilities above that year's cover. Flagged, never refused: the
    board and the accounting officer decide knowing it."""
    if liability_test == "off":
        return []
    base = [profile(c, as_of) for c in commitments if c.status in COMMITTED_STATUSES]
    flags = []
    for pending in (c for c in commitments if c.status in PENDING_STATUSES):
        added = profile(pending, as_of)
        with_it = _forecast_of([*base, added], list(funding), as_of, liability_test)
        over = {
            r.financial_year: r.tested_pence(liability_test) - r.cover_pence
            for r in with_it.years
            if r.flagged and added.maximum.get(r.financial_year, 0) > 0
        }
        if over:
            flags.append(
                ProposalFlag(
                    pending.allocation_id,
                    pending.status,
                    pending.value_pence,
                    tuple(sorted(over)),
                    over,
                )
            )
    return flags


# --- The place's own choices --------------------------------------------------------------


@dataclass(frozen=True)
class PlaceRules:
    """A place's choices: the figure each year is tested on, and the share of the pot one
    provider may hold before the board is told (basis points: 2500 is 25%)."""

    liability_test: str = DEFAULT_LIABILITY_TEST
    provider_share_max_basis_points: int = 2500


class RulesRefused(GatewayError, ValueError):
    """A place rule that cannot be kept: names the field and the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule = field, rule


def check_rules(liability_test: str, provider_share_max_basis_points: int) -> PlaceRules:
    if liability_test not in LIABILITY_TESTS:
        raise RulesRefused(
            "liability_test",
            "one_of",
            f"liability_test must be one of {', '.join(LIABILITY_TESTS)}",
        )
    if not 1 <= provider_share_max_basis_points <= 10_000:
        raise RulesRefused(
            "provider_share_max_basis_points",
            "range",
            "provider_share_max_basis_points must be from 1 to 10000 (0.01% to 100%)",
        )
    return PlaceRules(liability_test, provider_share_max_basis_points)


def forecast_figures(result: Forecast, flags: Sequence[ProposalFlag]) -> dict[str, object]:
    """The forecast as the API and the pages give it: plain figures in pence."""
    return {
        "as_of": result.as_of.isoformat(),
        "liability_test": result.liability_test,
        "years": [
            {
                "financial_year": row.financial_year,
                "maximum_pence": row.maximum_pence,
                "expected_pence": row.expected_pence,
                "contract_maximum_pence": row.contract_maximum_pence,
                "contract_expected_pence": row.contract_expected_pence,
                "grants_due_pence": row.grants_due_pence,
                "settled_pence": row.settled_pence,
                "to_receive_pence": row.to_receive_pence,
                "uncommitted_pence": row.uncommitted_pence,
                "cover_pence": row.cover_pence,
                "shortfall_pence": row.shortfall_pence,
                "flagged": row.flagged,
                "contracts": row.contracts,
            }
            for row in result.years
        ],
        "flagged_years": result.flagged_years,
        "commitments": [
            {
                "allocation_id": each.allocation_id,
                "kind": each.kind,
                "maximum_pence": each.maximum,
                "expected_pence": each.expected,
                "method": each.method,
            }
            for each in result.profiles
        ],
        "flagged_proposals": [
            {
                "allocation_id": flag.allocation_id,
                "status": flag.status,
                "value_pence": flag.value_pence,
                "years": list(flag.years),
                "shortfall_pence": flag.shortfall_pence,
            }
            for flag in flags
        ],
    }


# --- Provider concentration ---------------------------------------------------------------

UNKNOWN_LEGAL_FORM = "unknown"


@dataclass(frozen=True)
class Flow:
    """Money to one provider in one financial year: an allocation's value or a payment."""

    provider_id: str
    financial_year: str
    amount_pence: int


@dataclass(frozen=True)
class ProviderFacts:
    """What the organisations register says of a provider (None: not recorded)."""

    legal_form: str = UNKNOWN_LEGAL_FORM
    is_sme: bool | None = None
    is_vcse: bool | None = None


def share_basis_points(part: int, whole: int) -> int:
    """`part` of `whole` in basis points (1% = 100), rounded half up; 0 of nothing is 0."""
    if whole <= 0:
        return 0
    return (2 * part * 10_000 + whole) // (2 * whole)


def herfindahl_hirschman(amounts: Iterable[int]) -> int:
    """The Herfindahl-Hirschman index on the 0-10,000 scale: the sum of each party's squared
    percentage share (one provider holding everything is 10,000), rounded half up."""
    values = [amount for amount in amounts if amount > 0]
    total = sum(values)
    if total == 0:
        return 0
    squares = sum(value * value for value in values) * 10_000
    return (2 * squares + total * total) // (2 * total * total)


def _shares(totals: dict[str, int], whole: int, key: str) -> list[dict[str, object]]:
    return [
        {key: name, "amount_pence": amount, "share_basis_points": share_basis_points(amount, whole)}
        for name, amount in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]


def _by_provider(flows: Iterable[Flow]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for flow in flows:
        totals[flow.provider_id] = totals.get(flow.provider_id, 0) + flow.amount_pence
    return totals


def providers_over(by_provider: dict[str, int], share_max_basis_points: int) -> dict[str, int]:
    """The providers whose share of the total passes the place's threshold, with their share."""
    total = sum(by_provider.values())
    shares = {name: share_basis_points(amount, total) for name, amount in by_provider.items()}
    return {name: share for name, share in sorted(shares.items()) if share > share_max_basis_points}


def concentration_of(
    flows: Iterable[Flow], register: dict[str, ProviderFacts], share_max_basis_points: int
) -> dict[str, object]:
    """One year's money (allocations or payments): each provider's and legal form's share, the
    HHI, the share of small or local providers (SME or VCSE in the register), and the providers
    whose share passes the place's threshold."""
    by_provider = _by_provider(flows)
    total = sum(by_provider.values())
    by_form: dict[str, int] = {}
    small_or_local = 0
    for provider, amount in by_provider.items():
        facts = register.get(provider, ProviderFacts())
        by_form[facts.legal_form] = by_form.get(facts.legal_form, 0) + amount
        if facts.is_sme or facts.is_vcse:
            small_or_local += amount
    return {
        "total_pence": total,
        "herfindahl_hirschman_index": herfindahl_hirschman(by_provider.values()),
        "providers": _shares(by_provider, total, "provider_id"),
        "legal_forms": _shares(by_form, total, "legal_form"),
        "small_or_local_pence": small_or_local,
        "small_or_local_share_basis_points": share_basis_points(small_or_local, total),
        "over_share_max": list(providers_over(by_provider, share_max_basis_points)),
    }


def concentration(
    allocations: Sequence[Flow],
    payments: Sequence[Flow],
    register: dict[str, ProviderFacts],
    share_max_basis_points: int,
) -> dict[str, object]:
    """Per financial year, the concentration of the place's allocations and of its payments,
    and the board's flags: every provider past the place's share in either."""
    years = sorted({flow.financial_year for flow in [*allocations, *payments]})
    rows: list[dict[str, object]] = []
    flags: list[dict[str, object]] = []
    for year in years:
        row: dict[str, object] = {"financial_year": year}
        for measure, flows in (("allocations", allocations), ("payments", payments)):
            of_year = [flow for flow in flows if flow.financial_year == year]
            row[measure] = concentration_of(of_year, register, share_max_basis_points)
            over = providers_over(_by_provider(of_year), share_max_basis_points)
            flags += [
                {"financial_year": year, "measure": measure, "provider_id": provider,
                 "share_basis_points": share}
                for provider, share in over.items()
            ]  # fmt: skip
        rows.append(row)
    return {"share_max_basis_points": share_max_basis_points, "years": rows, "flags": flags}


# --- The reform dividend ------------------------------------------------------------------

UNIT_COST_COLUMNS = (
    "metric_id",
    "beneficiary_agency",
    "fiscal_saving_pence",
    "public_value_pence",
    "source",
    "source_year",
)
UNIT_COST_ROWS_MAX = 10_000
TEXT_LENGTH_MAX = 300
UNIT_PENCE_MAX = 10**12  # £10bn per outcome: far past any real unit cost, inside 64 bits
_FIELD_LENGTH = f"{{0,{TEXT_LENGTH_MAX - 1}}}"
_CSV_TEXT = (
    f'(?:[^,"\\s\\x00][^,"\\r\\n\\x00]{_FIELD_LENGTH}|"[^"\\s\\x00][^"\\r\\n\\x00]{_FIELD_LENGTH}")'
)
_CSV_ROW = ",".join([_CSV_TEXT, _CSV_TEXT, "[0-9]{1,12}", "[0-9]{1,12}", _CSV_TEXT, _CSV_TEXT])
UNIT_COST_CSV_PATTERN = (
    "^\\ufeff?"
    + ",".join(UNIT_COST_COLUMNS)
    + f"\\r?\\n(?:{_CSV_ROW}\\r?\\n){{0,{UNIT_COST_ROWS_MAX - 1}}}{_CSV_ROW}(?:\\r?\\n)?$"
)
"""The shape of a unit-cost CSV, for the OpenAPI document and checked before it is read: the
header, then 1 to 10,000 rows of text, text, whole pence, whole pence, text, text (none blank;
a text with a comma in double quotes, without quotes or line breaks inside). Only the rule that
a metric and agency appear once cannot be written in it."""


@dataclass(frozen=True)
class UnitCost:
    """What one outcome of a metric is worth: the fiscal saving to one beneficiary agency and
    the public value (fiscal, economic and social) counted on the same row, with its source.
    A metric's value per outcome is the sum of its rows."""

    metric_id: str
    beneficiary_agency: str
    fiscal_saving_pence: int
    public_value_pence: int
    source: str
    source_year: str


class UnitCostsRefused(GatewayError, ValueError):
    """A unit-cost table that cannot be loaded: names the row, the field and the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule = field, rule


def parse_unit_costs(rows: Sequence[dict[str, str]]) -> list[UnitCost]:
    """A unit-cost table from CSV rows (header `UNIT_COST_COLUMNS`), checked whole: every
    figure whole pence of 0 or more, every text present, one row per metric and agency."""
    if not rows:
        raise UnitCostsRefused("rows", "required", "the table has no rows")
    if len(rows) > UNIT_COST_ROWS_MAX:
        raise UnitCostsRefused("rows", "rows_max", f"at most {UNIT_COST_ROWS_MAX} rows")
    table, seen = [], set()
    for number, row in enumerate(rows, start=1):
        unit_cost = _unit_cost(number, row)
        key = (unit_cost.metric_id, unit_cost.beneficiary_agency)
        if key in seen:
            raise UnitCostsRefused(
                f"row {number}",
                "unique",
                f"row {number} lists {key[0]} for {key[1]} more than once",
            )
        seen.add(key)
        table.append(unit_cost)
    return table


def _unit_cost(number: int, row: dict[str, str]) -> UnitCost:
    values = {}
    for column in UNIT_COST_COLUMNS:
        value = (row.get(column) or "").strip()
        if not value or len(value) > TEXT_LENGTH_MAX:
            raise UnitCostsRefused(
                f"row {number}.{column}",
                "required",
                f"row {number}: {column} must be given (at most {TEXT_LENGTH_MAX} characters)",
            )
        values[column] = value
    for column in ("fiscal_saving_pence", "public_value_pence"):
        if not values[column].isdigit() or int(values[column]) > UNIT_PENCE_MAX:
            raise UnitCostsRefused(
                f"row {number}.{column}",
                "whole_pence",
                f"row {number}: {column} must be whole pence, from 0 to {UNIT_PENCE_MAX}",
            )
    return UnitCost(
        values["metric_id"],
        values["beneficiary_agency"],
        int(values["fiscal_saving_pence"]),
        int(values["public_value_pence"]),
        values["source"],
        values["source_year"],
    )


@dataclass(frozen=True)
class OutcomesPaid:
    """A contract's paid outcomes of one metric (net of clawed-back claims) and their pence."""

    contract_id: str
    mission_id: str
    metric_id: str
    outcome_count: int
    paid_pence: int
    recovered_pence: int = 0


def value_per_pound(value_pence: int, paid_pence: int) -> str | None:
    """Value per £1 paid, to two decimal places (half up); None when nothing was paid."""
    if paid_pence <= 0:
        return None
    hundredths = (2 * value_pence * 100 + paid_pence) // (2 * paid_pence)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _dividend_of(paid: Sequence[OutcomesPaid], table: Sequence[UnitCost]) -> dict[str, object]:
    outcomes: dict[str, int] = {}
    for each in paid:
        outcomes[each.metric_id] = outcomes.get(each.metric_id, 0) + each.outcome_count
    paid_pence = sum(each.paid_pence for each in paid)
    by_agency: dict[str, int] = {}
    public_value = 0
    for unit in table:
        count = outcomes.get(unit.metric_id, 0)
        if count:
            agency = unit.beneficiary_agency
            by_agency[agency] = by_agency.get(agency, 0) + count * unit.fiscal_saving_pence
            public_value += count * unit.public_value_pence
    fiscal = sum(by_agency.values())
    return {
        "outcomes_paid": dict(sorted(outcomes.items())),
        "paid_pence": paid_pence,
        "fiscal_savings_pence": fiscal,
        "fiscal_savings_by_agency_pence": dict(sorted(by_agency.items())),
        "public_value_pence": public_value,
        "fiscal_savings_per_pound_paid": value_per_pound(fiscal, paid_pence),
        "public_value_per_pound_paid": value_per_pound(public_value, paid_pence),
        "metrics_without_unit_costs": sorted(set(outcomes) - {unit.metric_id for unit in table}),
    }


def reform_dividend(paid: Sequence[OutcomesPaid], table: Sequence[UnitCost]) -> dict[str, object]:
    """The place's outcomes paid, valued by its unit-cost table: per contract, per mission and
    for the place (aggregates only, never a person)."""

    def grouped(key: str) -> list[dict[str, object]]:
        names = sorted({getattr(each, key) for each in paid})
        return [
            {key: name, **_dividend_of([e for e in paid if getattr(e, key) == name], table)}
            for name in names
        ]

    return {
        "place": _dividend_of(paid, table),
        "missions": grouped("mission_id"),
        "contracts": grouped("contract_id"),
    }


# --- A place's figures for comparison -----------------------------------------------------


def unit_cost(paid_pence: int, outcomes: int) -> int | None:
    """Pence paid per outcome, rounded half up; None without outcomes."""
    return (2 * paid_pence + outcomes) // (2 * outcomes) if outcomes > 0 else None


def median_text(values: Sequence[int]) -> str | None:
    """The median as text ("12" or "12.5"); None of nothing."""
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    if len(ordered) % 2:
        return str(ordered[middle])
    twice = ordered[middle - 1] + ordered[middle]
    return str(twice // 2) if twice % 2 == 0 else f"{twice / 2:.1f}"


def _outcome_figures(
    key: str, name: str, paid: Sequence[OutcomesPaid], target: int | None
) -> dict[str, object]:
    outcomes = sum(each.outcome_count for each in paid)
    paid_pence = sum(each.paid_pence for each in paid)
    recovered = sum(each.recovered_pence for each in paid)
    return {
        key: name,
        "outcomes_paid": outcomes,
        "paid_pence": paid_pence,
        "unit_cost_pence": unit_cost(paid_pence, outcomes),
        "target_count": target,
        "outcomes_to_target_basis_points": (
            share_basis_points(outcomes, target) if target else None
        ),
        "recovered_pence": recovered,
        "clawback_rate_basis_points": share_basis_points(recovered, paid_pence + recovered),
    }


def _targets_by(
    key: str, paid: Sequence[OutcomesPaid], targets: dict[tuple[str, str], int]
) -> dict[str, int | None]:
    """Each group's target: the sum of its contracts' metric targets (None when none set)."""
    missions = {each.contract_id: each.mission_id for each in paid}
    totals: dict[str, int | None] = {}
    for (contract_id, metric_id), count in targets.items():
        group = metric_id if key == "metric_id" else missions.get(contract_id)
        if group is not None:
            totals[group] = (totals.get(group) or 0) + count
    return totals


def pot_by_purpose(
    allocations: Sequence[tuple[int, Sequence[str]]],
) -> list[dict[str, object]]:
    """The funded pot's share by purpose tag: an allocation with several tags is divided
    equally among them, one with none counts as "untagged"."""
    totals: dict[str, int] = {}
    for value, tags in allocations:
        names = list(tags) or ["untagged"]
        for tag, part in zip(names, split(value, [1] * len(names)), strict=True):
            totals[tag] = totals.get(tag, 0) + part
    return _shares(totals, sum(totals.values()), "purpose")


def place_figures(
    paid: Sequence[OutcomesPaid],
    targets: dict[tuple[str, str], int],
    allocations: Sequence[tuple[int, Sequence[str]]],
    evidence_to_payment_days: Sequence[int],
) -> dict[str, object]:
    """What one place publishes for comparison: per metric and mission, outcomes paid, unit
    cost, outcomes against targets and clawback rate; its pot by purpose; days from evidence
    to payment; and its clawback rate overall."""

    def grouped(key: str) -> list[dict[str, object]]:
        group_targets = _targets_by(key, paid, targets)
        names = sorted({getattr(each, key) for each in paid} | set(group_targets))
        return [
            _outcome_figures(
                key, name, [e for e in paid if getattr(e, key) == name], group_targets.get(name)
            )
            for name in names
        ]

    whole = _outcome_figures("place", "place", paid, sum(targets.values()) or None)
    return {
        "metrics": grouped("metric_id"),
        "missions": grouped("mission_id"),
        "pot_by_purpose": pot_by_purpose(allocations),
        "evidence_to_payment_days": {
            "payments": len(evidence_to_payment_days),
            "median": median_text(evidence_to_payment_days),
        },
        "outcomes_paid": whole["outcomes_paid"],
        "paid_pence": whole["paid_pence"],
        "unit_cost_pence": whole["unit_cost_pence"],
        "clawback_rate_basis_points": whole["clawback_rate_basis_points"],
    }


# --- Places compared ----------------------------------------------------------------------


class ComparisonRefused(GatewayError, ValueError):
    """A document that is not a place's insights open data (names what is wrong)."""


def _place_of(source: str, document: object) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("figures"), dict):
        raise ComparisonRefused(f"{source} is not a singlepot insights.json document")
    return document


def compare(documents: Sequence[tuple[str, object]]) -> dict[str, object]:
    """Places side by side from their insights open data (source, document): each place's
    unit cost, clawback rate, evidence-to-payment time and pot by purpose, and per metric and
    mission each place's unit cost and outcomes against targets."""
    places = [(source, _place_of(source, document)) for source, document in documents]

    def side_by_side(kind: str, key: str) -> list[dict[str, object]]:
        names = sorted({row[key] for _, doc in places for row in doc["figures"].get(kind, [])})
        return [
            {
                key: name,
                "places": [
                    {"place_id": doc.get("place_id"), "source": source, **row}
                    for source, doc in places
                    for row in doc["figures"].get(kind, [])
                    if row[key] == name
                ],
            }
            for name in names
        ]

    return {
        "places": [
            {
                "place_id": doc.get("place_id"),
                "source": source,
                "outcomes_paid": doc["figures"].get("outcomes_paid"),
                "paid_pence": doc["figures"].get("paid_pence"),
                "unit_cost_pence": doc["figures"].get("unit_cost_pence"),
                "clawback_rate_basis_points": doc["figures"].get("clawback_rate_basis_points"),
                "evidence_to_payment_median_days": (
                    doc["figures"].get("evidence_to_payment_days") or {}
                ).get("median"),
                "pot_by_purpose": doc["figures"].get("pot_by_purpose", []),
                "public_value_per_pound_paid": (
                    (doc.get("reform_dividend") or {}).get("place") or {}
                ).get("public_value_per_pound_paid"),
            }
            for source, doc in places
        ],
        "metrics": side_by_side("metrics", "metric_id"),
        "missions": side_by_side("missions", "mission_id"),
    }
