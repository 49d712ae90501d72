"""The insights room's calculations, pure (no I/O: `db.py` loads, `api.py` and `pages.py` show).

The liability forecast: year by year over the life of every commitment, the most the place may
still have to pay (contract caps, planned claim periods, grant instalments), what it expects to
pay (achieved rates so far), against the money settled for each year; and which proposals would
push a year's liabilities past what is settled (DOMAIN.md §3-4, the papers' "ten year test")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from contracts.values import financial_year_on, next_financial_year

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


class RulesRefused(ValueError):
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
