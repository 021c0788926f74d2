"""Django's session, CSRF, authentication and messages middlewares, skipped on the JSON
API's POST endpoints.

The API (exchange/api/urls.py) authenticates nothing by session or cookie: its views are
CSRF-exempt DRF views with no authentication classes, and it neither reads request.user
nor sets messages. On its POST endpoints (the signed writes and the POST reads) these four
middlewares only cost time, so there each wrapper hands the request straight on. Every
other request (the admin, the operator dashboard, the landing page, a GET anywhere) runs
them exactly as before.
"""

from functools import cache

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware as _Csrf


@cache
def _api_paths() -> frozenset[str]:
    """The API's fixed paths (those with no parameter in them), as request paths."""
    from exchange.api.urls import urlpatterns

    routes = (str(pattern.pattern) for pattern in urlpatterns)
    return frozenset("/" + route for route in routes if "<" not in route)


def is_json_api_post(request: HttpRequest) -> bool:
    return request.method == "POST" and request.path_info in _api_paths()


class _SkippedOnJsonApiPosts:
    """Hands a POST to the JSON API straight on; runs the middleware it is mixed into
    on every other request."""

    def __call__(self, request):
        if is_json_api_post(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_SkippedOnJsonApiPosts, _Session):
    pass


class CsrfViewMiddleware(_SkippedOnJsonApiPosts, _Csrf):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_json_api_post(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(_SkippedOnJsonApiPosts, _Authentication):
    pass


class MessageMiddleware(_SkippedOnJsonApiPosts, _Messages):
    pass
