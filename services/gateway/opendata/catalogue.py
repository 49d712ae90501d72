"""A place's open-data catalogue in DCAT (W3C Data Catalog Vocabulary), as JSON-LD with its
context inline: the catalogue (`dcat:Catalog`), each dataset (`dcat:Dataset`: title,
description, publisher, licence, issued, modified, spatial coverage) and its file
(`dcat:Distribution`: access and download URL, media type, licence). The plain keys the
catalogue had before (`place_id`, `publisher`, `datasets` with `name`, `url`, `media_type`,
`title`) stay, outside the context, for clients that read them. Documents published at other
addresses (the citizens' processes' open data, services/gateway/citizens/open_data.py) are
listed with the same fields (`Listed`). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.gateway.opendata.publishing import (
    LICENCE_NAME,
    LICENCE_URL,
    JsonObject,
    PlaceData,
    datetime_text,
)

CONTEXT: JsonObject = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dct:issued": {"@type": "xsd:dateTime"},
    "dct:modified": {"@type": "xsd:dateTime"},
    "dct:license": {"@type": "@id"},
    "dct:spatial": {"@type": "@id"},
    "dcat:accessURL": {"@type": "@id"},
    "dcat:downloadURL": {"@type": "@id"},
    "dcat:landingPage": {"@type": "@id"},
    "dcat:mediaType": {"@type": "@id"},
}
# ONS's linked-data address of a statistical geography (a local authority district's GSS code).
GSS_URI = "http://statistics.data.gov.uk/id/statistical-geography/{}"
MEDIA_TYPE_URI = "https://www.iana.org/assignments/media-types/{}"
MONEY_ONLY = "Organisations and money only: no personal data; claim counts below 10 are suppressed."


@dataclass(frozen=True)
class Listed:
    """A dataset the catalogue lists at its own address (not under the catalogue's), with what
    its description says about the data in it."""

    name: str
    media_type: str
    title: str
    url: str
    description: str


def document(
    data: PlaceData,
    base: str,
    datasets: list[tuple[str, str, str]],
    issued: datetime,
    modified: datetime,
    elsewhere: Sequence[Listed] = (),
) -> JsonObject:
    """The place's catalogue: `datasets` are (file name, media type, title) of the files the
    place publishes under `base`, the catalogue's own URL; `elsewhere` are those it publishes
    at other addresses."""
    listed = [
        Listed(name, media, title, f"{base}/{name}", f"{title}. {MONEY_ONLY}")
        for name, media, title in datasets
    ] + list(elsewhere)
    identity = data.identity()
    authority = data.authority()
    publisher = {
        "@id": f"{base}#publisher",
        "@type": "foaf:Organization",
        "foaf:name": authority.name,
        "dct:identifier": authority.org_id,
    }
    spatial = [GSS_URI.format(code) for _, code in data.districts()]
    found: JsonObject = {
        "@context": CONTEXT,
        "@id": base,
        "@type": "dcat:Catalog",
        "dct:title": f"{authority.name}: open data on the place's single pot",
        "dct:publisher": publisher,
        "dct:license": LICENCE_URL,
        "dct:modified": datetime_text(modified),
        "dcat:dataset": [_dataset(item, publisher, spatial, issued, modified) for item in listed],
        # The plain keys, for clients that read them.
        "place_id": data.place_id,
        "publisher": {"name": authority.name, "org_id": authority.org_id},
        "publication_policy": identity.publication_policy_url,
        "demonstration_data": identity.demo,
        "licence": {"name": LICENCE_NAME, "url": LICENCE_URL},
        "personal_data": (
            "none: organisations and money, and citizens' processes under pseudonyms"
            " (never a resident's name or key)"
        ),
        "datasets": [
            {"name": item.name, "url": item.url, "media_type": item.media_type, "title": item.title}
            for item in listed
        ],
    }
    if identity.publication_policy_url:
        found["dcat:landingPage"] = identity.publication_policy_url
    return found


def _dataset(
    item: Listed,
    publisher: JsonObject,
    spatial: list[str],
    issued: datetime,
    modified: datetime,
) -> JsonObject:
    url = item.url
    dataset: JsonObject = {
        "@id": f"{url}#dataset",
        "@type": "dcat:Dataset",
        "dct:title": item.title,
        "dct:description": item.description,
        "dct:publisher": {"@id": publisher["@id"]},
        "dct:license": LICENCE_URL,
        "dct:issued": datetime_text(issued),
        "dct:modified": datetime_text(modified),
        "dcat:distribution": [
            {
                "@id": url,
                "@type": "dcat:Distribution",
                "dct:title": item.name,
                "dcat:accessURL": url,
                "dcat:downloadURL": url,
                "dcat:mediaType": MEDIA_TYPE_URI.format(item.media_type),
                "dct:license": LICENCE_URL,
            }
        ],
    }
    if spatial:
        dataset["dct:spatial"] = spatial
    return dataset
