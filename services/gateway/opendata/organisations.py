"""The organisations register's rules: who an organisation is (name, legal form, registered
org-id, postcode, SME/VCSE flags for providers) and the checks a registration must pass. Pure:
the API stores what `check_registration` accepts, and every export reads the same rows, so one
organisation has one identifier in 360Giving, OCDS and INDIGO alike.

An organisation is known inside singlepot by its reference: a provider's id (`PROV-WORKWELL`),
a department's code (`DWP`), or the place's id for the combined authority itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.gateway.errors import GatewayError

KINDS = ("department", "provider", "investor", "combined_authority")

# DOMAIN.md §2: a provider's legal form is recorded; public bodies cover departments and CAs.
LEGAL_FORMS = {
    "charity": "Charity",
    "social_enterprise": "Social enterprise",
    "mutual": "Mutual",
    "co_operative": "Co-operative",
    "company": "Company",
    "public_body": "Public body",
}

# The org-id.guide schemes a UK organisation here is registered under, with the shape of an
# identifier each issues (a typo in a charity or company number is the commonest fault the
# 360Giving quality checks report).
ORG_ID_SCHEMES = {
    # UK government organisation register: D10 is DWP (openregister/government-organisation-data).
    "GB-GOR": re.compile(r"^(D|DA|PB|EA|EO|OT|PC|IM|CO|CS)\d{1,4}$"),
    "GB-LAE": re.compile(r"^[A-Z]{3,4}$"),  # local authorities (England), incl. combined
    "GB-CHC": re.compile(r"^\d{6,7}$"),  # Charity Commission for England and Wales
    "GB-SC": re.compile(r"^SC\d{6}$"),  # Scottish charity register
    "GB-COH": re.compile(r"^([0-9]{8}|(SC|NI|OC|SO|NC|RS|IP|CE|CS)[0-9]{6})$"),  # Companies House
    "GB-MPR": re.compile(r"^\d{1,6}[A-Z]{0,2}$"),  # FCA mutuals public register
    "GB-NHS": re.compile(r"^[A-Z0-9]{3,5}$"),  # NHS organisation data service
    "GB-EDU": re.compile(r"^\d{6}$"),  # schools (URN)
}

# The combined authorities the Local Authorities for England register (org-id.guide GB-LAE)
# lists, local-authority-type COMB ("Combined Authority"), from its final data: repository
# openregister/registers-data-archive, local-authority-eng/records.json, commit
# 3bd3ef732e98763868d48bb1e177ccc4e0af281c (the register retired in 2021 and takes no new
# entries). A combined authority made since (West Yorkshire, North East, York and North
# Yorkshire, East Midlands, ...) has no GB-LAE code: opendata/README.md says what to do.
COMBINED_AUTHORITIES_GB_LAE = {
    "GMCA": "Greater Manchester Combined Authority",
    "WMCA": "West Midlands Combined Authority",
    "LCR": "Liverpool City Region",
    "SCR": "Sheffield City Region",
    "TVCA": "Tees Valley Combined Authority",
    "WECA": "West of England Combined Authority",
    "CPCA": "Cambridgeshire and Peterborough Combined Authority",
}

# What each scheme's number is called in 360Giving's recipient organisation.
CHARITY_SCHEMES = frozenset({"GB-CHC", "GB-SC"})
COMPANY_SCHEMES = frozenset({"GB-COH"})

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
NAME_LENGTH_MAX = 300


@dataclass(frozen=True)
class Organisation:
    """One registered organisation of a place."""

    organisation_ref: str
    kind: str
    name: str
    legal_form: str
    org_id_scheme: str
    org_id_identifier: str
    postcode: str | None = None
    is_sme: bool | None = None
    is_vcse: bool | None = None

    @property
    def org_id(self) -> str:
        """The org-id.guide identifier: scheme, a hyphen, the register's own number."""
        return f"{self.org_id_scheme}-{self.org_id_identifier}"

    @property
    def registered(self) -> bool:
        return self.org_id_scheme in ORG_ID_SCHEMES


class RegistrationRefused(GatewayError, ValueError):
    """The registration breaks a rule of the register; `field` names the field, `rule` the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


def check_registration(organisation: Organisation) -> Organisation:
    """The organisation, normalised (postcode upper case), or a refusal naming field and rule."""
    _require(organisation.kind in KINDS, "kind", "one_of", f"kind must be one of {KINDS}")
    _require(
        organisation.legal_form in LEGAL_FORMS,
        "legal_form",
        "one_of",
        f"legal_form must be one of {tuple(LEGAL_FORMS)}",
    )
    _require(
        0 < len(organisation.name.strip()) <= NAME_LENGTH_MAX
        and organisation.name.strip() == organisation.name,
        "name",
        "length",
        f"name must be 1 to {NAME_LENGTH_MAX} characters with no surrounding spaces",
    )
    _require(
        organisation.name != organisation.organisation_ref,
        "name",
        "not_a_code",
        "name must be the organisation's registered name, not its reference in singlepot",
    )
    pattern = ORG_ID_SCHEMES.get(organisation.org_id_scheme)
    _require(
        pattern is not None,
        "org_id_scheme",
        "org_id_guide",
        f"org_id_scheme must be one of the org-id.guide schemes {tuple(ORG_ID_SCHEMES)}",
    )
    assert pattern is not None
    _require(
        pattern.match(organisation.org_id_identifier) is not None,
        "org_id_identifier",
        "scheme_format",
        f"{organisation.org_id_identifier!r} is not an identifier {organisation.org_id_scheme} "
        f"issues (expected {pattern.pattern})",
    )
    postcode = organisation.postcode.strip().upper() if organisation.postcode else None
    _require(
        postcode is None or POSTCODE.match(postcode) is not None,
        "postcode",
        "uk_postcode",
        f"{organisation.postcode!r} is not a UK postcode",
    )
    flags = organisation.is_sme is not None or organisation.is_vcse is not None
    _require(
        organisation.kind == "provider" or not flags,
        "is_sme",
        "providers_only",
        "is_sme and is_vcse are recorded for providers only",
    )
    return Organisation(**{**organisation.__dict__, "postcode": postcode})


def _require(condition: bool, field: str, rule: str, message: str) -> None:
    if not condition:
        raise RegistrationRefused(field, rule, message)
