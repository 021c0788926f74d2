"""Test-only URLconf: the real one plus a stand-in view under each URL name that has
a security type, so key scopes are tested before those endpoints exist here."""

from django.urls import path
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.security import SECURITY_TYPES
from relayer.urls import urlpatterns as real_urlpatterns


class StandInView(ExchangeView):
    def get(self, request, **kwargs):
        return Response({"ok": True})

    def post(self, request, **kwargs):
        return Response({"ok": True})


urlpatterns = [
    *[
        path(f"stand-in/{name}", StandInView.as_view(), name=name)
        for name in SECURITY_TYPES
        if name not in ("accounts", "account-balances")
    ],
    path("stand-in/accounts/<str:address>", StandInView.as_view(), name="account-balances"),
    *real_urlpatterns,
]
