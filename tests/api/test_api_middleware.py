"""relayer/middleware.py: the session, CSRF, authentication and messages middlewares are
skipped on the JSON API's POST endpoints and run everywhere else."""

import pytest

from relayer.middleware import is_json_api_post

pytestmark = pytest.mark.django_db


def test_an_api_post_gets_no_session_or_csrf_work(client, rf):
    response = client.post("/create_orders", {}, content_type="application/json")
    assert response.status_code == 400
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    assert is_json_api_post(rf.post("/create_orders"))
    assert is_json_api_post(rf.post("/get_orders"))


def test_everything_else_still_runs_them(client, rf):
    assert not is_json_api_post(rf.get("/create_orders"))
    assert not is_json_api_post(rf.post("/admin/login/"))
    assert not is_json_api_post(rf.post("/admin/dashboard/"))
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    # No CSRF token: the admin's login still refuses the POST.
    csrf_client = type(client)(enforce_csrf_checks=True)
    refused = csrf_client.post("/admin/login/", {"username": "a", "password": "b"})
    assert refused.status_code == 403
