"""Finding 7 (issue 13): the admin login is throttled (django-axes). Five wrong passwords
for a username from one address lock that pair out, even for the right password; the
lockout is listed in the admin and lifting it there lets the operator in again."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def _login(client: Client, username: str, password: str, ip: str):
    page = client.get(LOGIN, REMOTE_ADDR=ip)
    assert page.status_code == 200
    return client.post(
        LOGIN,
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
            "next": "/admin/",
        },
        REMOTE_ADDR=ip,
    )


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_five_wrong_passwords_lock_the_username_and_address(settings):
    User = get_user_model()
    User.objects.create_superuser("operator", password="right-password")
    attacker = Client(enforce_csrf_checks=True)
    for _ in range(5):
        assert not _logged_in(_login(attacker, "operator", "wrong", "10.5.0.1"))
    locked = _login(attacker, "operator", "right-password", "10.5.0.1")
    assert not _logged_in(locked)
    assert locked.status_code == 429

    # The same username from another address, and another username, are not locked.
    assert _logged_in(
        _login(Client(enforce_csrf_checks=True), "operator", "right-password", "10.5.0.2")
    )

    # The operator sees the lockout in the admin and lifts it.
    admin = Client()
    admin.force_login(User.objects.get(username="operator"))
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and b"10.5.0.1" in listing.content
    attempt = AccessAttempt.objects.get(username="operator", ip_address="10.5.0.1")
    assert attempt.failures_since_start >= 5
    lifted = admin.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, follow=False
    )
    assert lifted.status_code == 302
    assert _logged_in(
        _login(Client(enforce_csrf_checks=True), "operator", "right-password", "10.5.0.1")
    )


def test_the_right_password_before_the_limit_still_logs_in():
    get_user_model().objects.create_superuser("operator", password="right-password")
    client = Client(enforce_csrf_checks=True)
    for _ in range(4):
        _login(client, "operator", "wrong", "10.6.0.1")
    assert _logged_in(_login(client, "operator", "right-password", "10.6.0.1"))
