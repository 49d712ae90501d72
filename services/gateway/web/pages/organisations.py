"""Finance staff's pages for the organisations register: the list of a place's organisations
with a form to register one, and each organisation's page with a form to correct it. The forms
register through the API's own path (`register_api.register`: the same permission, rules and
one-org-id check), so a page and the API can never disagree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.opendata import db, register_api
from services.gateway.opendata.organisations import KINDS, LEGAL_FORMS, ORG_ID_SCHEMES
from services.gateway.problems import FieldProblem, ProblemError, field_problem
from services.gateway.web.rendering import Page, error_summary, field_errors, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in, text

PATH = "/places/{place_id}/organisations"
TEXT_FIELDS = ("organisation_ref", "kind", "name", "legal_form", "org_id_scheme")
FIELDS = {name: name for name in (*TEXT_FIELDS, "org_id_identifier", "postcode", "is_sme")}
FIELDS["is_vcse"] = "is_vcse"
FLAG_WORDS = {"yes": True, "no": False, "": None}
NOTICES = {
    "registered": "The organisation is registered: every open-data file now names it by its "
    "org-id.",
    "corrected": "The register entry is corrected: the open-data files name it so from now on.",
}
KIND_WORDS = {
    "combined_authority": "Combined authority",
    "department": "Government department",
    "provider": "Provider",
    "investor": "Investor",
}


def registration_fields(form: FormData) -> dict[str, Any]:
    """The form as the register's API body: empty postcode and unanswered flags are None."""
    fields: dict[str, Any] = {name: text(form, name) for name in TEXT_FIELDS[1:]}
    fields["org_id_identifier"] = text(form, "org_id_identifier").replace(" ", "")
    fields["postcode"] = text(form, "postcode") or None
    for flag in ("is_sme", "is_vcse"):
        fields[flag] = FLAG_WORDS.get(text(form, flag))
    return fields


def _form_values(fields: dict[str, Any], reference: str) -> dict[str, str]:
    """What the form shows again after a refusal (or of the entry being corrected)."""
    values = {name: "" if value is None else str(value) for name, value in fields.items()}
    for flag in ("is_sme", "is_vcse"):
        answer = fields.get(flag)
        values[flag] = "" if answer is None else ("yes" if answer else "no")
    values["organisation_ref"] = reference
    return values


def _choices() -> dict[str, Any]:
    return {
        "kinds": [(kind, KIND_WORDS[kind]) for kind in KINDS],
        "legal_forms": list(LEGAL_FORMS.items()),
        "schemes": [(scheme, scheme) for scheme in ORG_ID_SCHEMES],
    }


async def list_page(
    page: Page,
    place_id: str,
    *,
    problems: list[FieldProblem] = (),  # type: ignore[assignment]
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_ALLOCATIONS, place_id, what="the organisations register")
    async with page.gateway.pool.acquire() as connection:
        found = await db.organisations(connection, place_id)
    return render(
        page,
        "organisations.html",
        status,
        title=f"Organisations of {place_id}",
        place_id=place_id,
        organisations=list(found.values()),
        kind_words=KIND_WORDS,
        may_register=principal.may(Permission.REGISTER_ORGANISATION, place_id, None),
        errors=error_summary(list(problems), FIELDS),
        field_errors=field_errors(list(problems), FIELDS),
        values=values or {},
        notice=NOTICES.get(page.request.query_params.get("sent", "")),
        **_choices(),
    )


async def organisation_page(
    page: Page,
    place_id: str,
    organisation_ref: str,
    *,
    problems: list[FieldProblem] = (),  # type: ignore[assignment]
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_ALLOCATIONS, place_id, what="the organisations register")
    async with page.gateway.pool.acquire() as connection:
        found = (await db.organisations(connection, place_id)).get(organisation_ref)
    if found is None:
        raise ProblemError(
            404, "not-found", f"{organisation_ref} is not in the register of {place_id}"
        )
    return render(
        page,
        "organisation.html",
        status,
        title=found.name,
        place_id=place_id,
        organisation=found,
        kind_words=KIND_WORDS,
        legal_form_words=LEGAL_FORMS,
        may_register=principal.may(Permission.REGISTER_ORGANISATION, place_id, None),
        errors=error_summary(list(problems), FIELDS),
        field_errors=field_errors(list(problems), FIELDS),
        values=values or _form_values(found.__dict__, organisation_ref),
        notice=NOTICES.get(page.request.query_params.get("sent", "")),
        **_choices(),
    )


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()
    reference = identifier_path()

    @routes.get(PATH)
    async def organisations(place_id: str = place, page: Page = PAGE) -> Response:
        return await list_page(page, place_id)

    @routes.post(PATH)
    async def register_organisation(place_id: str = place, page: Page = PAGE) -> Response:
        """Register a new organisation from the list page's form."""
        principal = signed_in(page)
        form = await read_form(page)
        organisation_ref = text(form, "organisation_ref")
        fields = registration_fields(form)
        problems = await _register(page, place_id, organisation_ref, fields, principal)
        if problems:
            values = _form_values(fields, organisation_ref)
            return await list_page(page, place_id, problems=problems, values=values, status=422)
        target = f"/places/{place_id}/organisations/{organisation_ref}?sent=registered"
        return RedirectResponse(target, status_code=303)

    @routes.get(f"{PATH}/{{organisation_ref}}")
    async def organisation(
        place_id: str = place, organisation_ref: str = reference, page: Page = PAGE
    ) -> Response:
        return await organisation_page(page, place_id, organisation_ref)

    @routes.post(f"{PATH}/{{organisation_ref}}")
    async def correct_organisation(
        place_id: str = place, organisation_ref: str = reference, page: Page = PAGE
    ) -> Response:
        """Correct an organisation's entry from its page's form."""
        principal = signed_in(page)
        form = await read_form(page)
        fields = registration_fields(form)
        problems = await _register(page, place_id, organisation_ref, fields, principal)
        if problems:
            values = _form_values(fields, organisation_ref)
            return await organisation_page(
                page, place_id, organisation_ref, problems=problems, values=values, status=422
            )
        target = f"/places/{place_id}/organisations/{organisation_ref}?sent=corrected"
        return RedirectResponse(target, status_code=303)

    return routes


async def _register(
    page: Page,
    place_id: str,
    organisation_ref: str,
    fields: dict[str, Any],
    principal: Any,
) -> list[FieldProblem]:
    """Register through the API's path; [] when registered, else the problems naming each
    field and rule (a permission refusal is raised: a 403 page)."""
    if not organisation_ref:
        return [field_problem("organisation_ref", "required", "Enter the reference singlepot uses")]
    try:
        check_storable(organisation_ref, "organisation_ref")
        await register_api.register(page.gateway, principal, place_id, organisation_ref, fields)
    except ProblemError as problem:
        if problem.status == 403:
            raise
        return problem.errors or [field_problem("form", problem.slug, problem.detail)]
    return []
