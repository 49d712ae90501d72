"""The open-data catalogue in DCAT, read as RDF by rdflib from its JSON-LD (context inline, so
no network): every dataset has the fields DCAT's application profiles ask of it (title,
description, publisher, licence, issued, modified, spatial coverage) and a distribution with
its access and download URL, media type and licence."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib import namespace as ns

from services.gateway.opendata import catalogue
from services.gateway.opendata.publishing import LICENCE_URL
from tests.unit.opendata.opendata_sample import MOMENT, sample

BASE = "https://singlepot.example/open-data/places/GM"
DATASETS = [
    ("360giving.json", "application/json", "Grants and payments, 360Giving 1.4 grants package"),
    ("ocds.json", "application/json", "Outcomes contracts, OCDS 1.1 release package"),
    ("360giving.csv", "text/csv", "Grants and payments, 360Giving flat CSV"),
]
# Published at other addresses (the citizens room's open data), listed with the same fields.
ELSEWHERE = [
    catalogue.Listed(
        "citizens/panel/open-data",
        "application/json",
        "Citizens' Panel: questions and answers",
        "https://singlepot.example/api/v1/places/GM/citizens/panel/open-data",
        "Citizens' Panel: questions and answers. Panel members by pseudonym only.",
    ),
]
ISSUED = MOMENT - timedelta(days=90)
GSS = Namespace("http://statistics.data.gov.uk/id/statistical-geography/")


@pytest.fixture
def graph() -> Graph:
    document = catalogue.document(sample(), BASE, DATASETS, ISSUED, MOMENT, ELSEWHERE)
    found = Graph()
    found.parse(data=json.dumps(document), format="json-ld")
    return found


def test_the_catalogue_lists_each_dataset_with_dcat_fields(graph: Graph) -> None:
    [catalogue_node] = graph.subjects(ns.RDF.type, ns.DCAT.Catalog)
    datasets = set(graph.objects(catalogue_node, ns.DCAT.dataset))
    here = [(f"{BASE}/{name}", media, title, "no personal data") for name, media, title in DATASETS]
    there = [(d.url, d.media_type, d.title, "by pseudonym only") for d in ELSEWHERE]
    assert datasets == {URIRef(f"{url}#dataset") for url, _, _, _ in here + there}
    for url, media, title, described in here + there:
        dataset = URIRef(f"{url}#dataset")
        assert (dataset, ns.RDF.type, ns.DCAT.Dataset) in graph
        assert graph.value(dataset, ns.DCTERMS.title) == Literal(title)
        assert described in str(graph.value(dataset, ns.DCTERMS.description))
        assert graph.value(dataset, ns.DCTERMS.license) == URIRef(LICENCE_URL)
        assert graph.value(dataset, ns.DCTERMS.issued) == Literal(
            "2026-07-02T12:00:00Z", datatype=ns.XSD.dateTime
        )
        assert graph.value(dataset, ns.DCTERMS.modified) == Literal(
            "2026-09-30T12:00:00Z", datatype=ns.XSD.dateTime
        )
        publisher = graph.value(dataset, ns.DCTERMS.publisher)
        assert graph.value(publisher, ns.FOAF.name) == Literal(
            "Greater Manchester Combined Authority"
        )
        assert graph.value(publisher, ns.DCTERMS.identifier) == Literal("GB-LAE-GMCA")
        assert GSS["E08000006"] in set(graph.objects(dataset, ns.DCTERMS.spatial))  # Salford
        assert len(set(graph.objects(dataset, ns.DCTERMS.spatial))) == 10  # GM's districts
        [distribution] = graph.objects(dataset, ns.DCAT.distribution)
        assert (distribution, ns.RDF.type, ns.DCAT.Distribution) in graph
        assert graph.value(distribution, ns.DCAT.accessURL) == URIRef(url)
        assert graph.value(distribution, ns.DCAT.downloadURL) == URIRef(url)
        assert graph.value(distribution, ns.DCAT.mediaType) == URIRef(
            f"https://www.iana.org/assignments/media-types/{media}"
        )
        assert graph.value(distribution, ns.DCTERMS.license) == URIRef(LICENCE_URL)


def test_the_catalogue_keeps_its_plain_keys() -> None:
    document = catalogue.document(sample(), BASE, DATASETS, ISSUED, MOMENT, ELSEWHERE)

    assert document["datasets"] == [
        {"name": name, "url": f"{BASE}/{name}", "media_type": media, "title": title}
        for name, media, title in DATASETS
    ] + [
        {
            "name": "citizens/panel/open-data",
            "url": "https://singlepot.example/api/v1/places/GM/citizens/panel/open-data",
            "media_type": "application/json",
            "title": "Citizens' Panel: questions and answers",
        }
    ]
    assert document["publisher"] == {
        "name": "Greater Manchester Combined Authority",
        "org_id": "GB-LAE-GMCA",
    }
