"""The landing page at `/`: what this service is and where everything is."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

DEMO_STATE = "demo.json"  # written by `make run` (relayer/demo.py, write_state)


def _demo() -> dict | None:
    """`make run`'s state file, when this process serves the demo; None in production."""
    try:
        return json.loads((settings.VAR_DIR / DEMO_STATE).read_text())
    except (OSError, ValueError):
        return None


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html", {"demo": _demo()})
