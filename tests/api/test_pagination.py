"""Pagination on a real paginated endpoint: GET /tokens."""

import re

import pytest

from tests.factories import TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_tokens(network):
    return [TokenFactory(network=network, symbol=f"T{index}") for index in range(5)]


def _links(response) -> dict[str, dict[str, str]]:
    """{rel: {param: value}} from the Link header."""
    links = {}
    for part in response["Link"].split(", "):
        match = re.fullmatch(r'<http://testserver/tokens\?([^>]*)>; rel="(\w+)"', part)
        assert match, part
        links[match.group(2)] = dict(pair.split("=", 1) for pair in match.group(1).split("&"))
    return links


def _symbols(response) -> list[str]:
    return [record["symbol"] for record in response.json()["records"]]


def test_it_defaults_to_the_first_page_of_100(api, five_tokens):
    body = api.get("/tokens").json()
    assert (body["total"], body["page"], body["per_page"]) == (5, 1, 100)
    assert len(body["records"]) == 5


def test_it_returns_the_requested_page_in_id_order(api, five_tokens):
    response = api.get("/tokens", {"page": 2, "per_page": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (5, 2, 2)
    assert _symbols(response) == ["T2", "T3"]


def test_the_last_page_may_be_short(api, five_tokens):
    assert _symbols(api.get("/tokens", {"page": 3, "per_page": 2})) == ["T4"]


def test_a_page_past_the_end_has_empty_records_and_the_real_total(api, five_tokens):
    response = api.get("/tokens", {"page": 4, "per_page": 2})
    assert response.status_code == 200
    assert response.json() == {"total": 5, "page": 4, "per_page": 2, "records": []}


def test_an_absurdly_far_page_is_still_just_empty(api, five_tokens):
    response = api.get("/tokens", {"page": str(10**30), "per_page": 500})
    assert response.status_code == 200
    assert response.json()["records"] == []


def test_an_empty_collection_is_one_empty_page(api, network):
    response = api.get("/tokens")
    assert response.json() == {"total": 0, "page": 1, "per_page": 100, "records": []}
    assert set(_links(response)) == {"first", "last"}
    assert _links(response)["last"]["page"] == "1"


def test_the_link_header_on_a_middle_page_has_all_four_relations(api, five_tokens):
    response = api.get("/tokens", {"page": 2, "per_page": 2, "networkId": 31337})
    links = _links(response)
    assert list(links) == ["first", "prev", "next", "last"]
    assert {rel: link["page"] for rel, link in links.items()} == {
        "first": "1",
        "prev": "1",
        "next": "3",
        "last": "3",
    }
    # Every link keeps the request's other parameters and its page size.
    assert all(link["per_page"] == "2" and link["networkId"] == "31337" for link in links.values())


def test_the_first_page_has_no_prev_and_the_last_page_no_next(api, five_tokens):
    assert list(_links(api.get("/tokens", {"per_page": 2}))) == ["first", "next", "last"]
    last = api.get("/tokens", {"page": 3, "per_page": 2})
    assert list(_links(last)) == ["first", "prev", "last"]


def test_prev_from_past_the_end_points_at_the_last_page(api, five_tokens):
    links = _links(api.get("/tokens", {"page": 9, "per_page": 2}))
    assert list(links) == ["first", "prev", "last"]
    assert links["prev"]["page"] == "3"


def test_following_next_links_visits_every_record_once(api, five_tokens):
    seen, url = [], "/tokens?per_page=2"
    while url:
        response = api.get(url)
        seen += _symbols(response)
        links = _links(response)
        url = (
            "/tokens?" + "&".join(f"{k}={v}" for k, v in links["next"].items())
            if "next" in links
            else None
        )
    assert seen == ["T0", "T1", "T2", "T3", "T4"]


def test_per_page_up_to_the_maximum_is_accepted(api, five_tokens, settings):
    settings.API_MAX_PER_PAGE = 500
    response = api.get("/tokens", {"per_page": 500})
    assert response.status_code == 200
    assert response.json()["per_page"] == 500


def test_per_page_over_the_maximum_is_a_400(api, five_tokens, settings):
    settings.API_MAX_PER_PAGE = 500
    response = api.get("/tokens", {"per_page": 501})
    assert response.status_code == 400
    assert response.json() == {
        "code": 100,
        "reason": "Validation failed",
        "validationErrors": [
            {"field": "per_page", "code": 1004, "reason": "per_page must be at most 500"}
        ],
    }


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"page": 0}, "page", 1004),
        ({"page": -1}, "page", 1004),
        ({"page": "two"}, "page", 1001),
        ({"page": "1.5"}, "page", 1001),
        ({"page": ""}, "page", 1001),
        ({"per_page": 0}, "per_page", 1004),
        ({"per_page": "many"}, "per_page", 1001),
    ],
)
def test_a_bad_page_or_per_page_is_a_400_naming_the_field(api, five_tokens, params, field, code):
    response = api.get("/tokens", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 100
    assert [(error["field"], error["code"]) for error in body["validationErrors"]] == [
        (field, code)
    ]


def test_both_bad_page_and_per_page_are_reported_together(api, five_tokens):
    response = api.get("/tokens", {"page": 0, "per_page": 0})
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["validationErrors"]}
    assert fields == {"page", "per_page"}


def test_perpage_in_camel_case_means_per_page(api, five_tokens):
    response = api.get("/tokens", {"perPage": 2})
    assert response.json()["per_page"] == 2
