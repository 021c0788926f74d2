"""Rate limits, API keys and bans for every API request, in one middleware.

Each request is counted, with fixed-window counters in the shared cache
(exchange/api/rate_counters.py), in
its endpoint's cost class (exchange/api/security.py) against its client: the IP, or
a valid X-API-KEY's own, larger budget. An account's budget is spent only by the
account's own signed writes: after the view, one count for each account whose
signature verified in a request that succeeded (exchange/services/signing.py
records them); a write naming an account whose budget is spent is refused before
its view. So unsigned, failing or replayed requests that merely name an account
count against their sender alone, whatever their size (docs/edge.md). Every response carries X-RateLimit-Limit,
X-RateLimit-Remaining and X-RateLimit-Reset (UTC epoch seconds) for the tightest
of those counters. Over a limit: 429, code 103. A client that sends more than
RATELIMIT_BAN_AFTER requests while throttled within RATELIMIT_BAN_WINDOW seconds
is banned (418) for an escalating period (exchange/services/bans.py).
"""

import functools
import ipaddress
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, get_urlconf, resolve
from django.utils import timezone

from exchange import market_snapshots
from exchange.api import rate_counters
from exchange.api.errors import Code, error_body
from exchange.api.parsers import json_loads_bounded
from exchange.api.rate_counters import Counter, Usage
from exchange.api.security import cost_class_of, security_type_of
from exchange.models import Ban
from exchange.selectors import reference_cache
from exchange.selectors.access import (
    ActiveBan,
    api_key_find,
    ban_active,
    ban_cache_keys,
    ban_from_cached,
    rate_limits_get,
)
from exchange.services.bans import ban_impose
from exchange.services.signing import verified_signers_track, verified_signers_untrack
from exchange.validators import ADDRESS_RE

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-KEY"
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def now() -> datetime:
    """The clock bans are judged by; tests replace it to travel in time."""
    return timezone.now()


def is_rate_limited_path(path: str) -> bool:
    return not any(path.startswith(prefix) for prefix in settings.RATELIMIT_EXEMPT_PATHS)


@functools.lru_cache(maxsize=8)
def _trusted_networks(addresses: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(address.strip(), strict=False) for address in addresses)


def is_trusted_proxy(peer: str) -> bool:
    """Whether the connecting peer is one of RATELIMIT_TRUSTED_PROXY_ADDRESSES."""
    try:
        parsed = ipaddress.ip_address(peer)
    except ValueError:
        return False
    networks = _trusted_networks(tuple(settings.RATELIMIT_TRUSTED_PROXY_ADDRESSES))
    return any(parsed in network for network in networks if network.version == parsed.version)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, when that peer is a trusted proxy, behind
    RATELIMIT_TRUSTED_PROXIES proxies the address the outermost one saw (X-Forwarded-For,
    counted from the right). Anyone else's X-Forwarded-For changes nothing.
    An IPv6 client is its /64, as it usually holds the whole prefix."""
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.RATELIMIT_TRUSTED_PROXIES
    if proxies and is_trusted_proxy(address):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def admin_login_client_ip(request: HttpRequest) -> str | None:
    """The client address django-axes locks admin logins by (AXES_CLIENT_IP_CALLABLE):
    client_ip's, or None when the request has no usable address."""
    address = client_ip(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def _address(value) -> str | None:
    return value.lower() if isinstance(value, str) and ADDRESS_RE.match(value) else None


def request_account(request: HttpRequest, url_kwargs: dict) -> str | None:
    """The account a request names: in its path, its query string (which wins over the
    body, as for every parameter) or its body (the first item of an array body)."""
    for name in ("account", "address", "account_address", "accountAddress"):
        if name in url_kwargs:
            return _address(url_kwargs[name])
    if "account" in request.GET:
        return _address(request.GET.get("account"))
    if request.method not in _WRITE_METHODS:
        return None
    length = _content_length(request)
    if not 0 < length <= settings.API_MAX_BODY_BYTES:
        return None
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _address(request.POST.get("account"))
    try:
        body = json_loads_bounded(request.body)
    except ValueError:
        return None
    if isinstance(body, list) and body:
        body = body[0]
    return _address(body.get("account")) if isinstance(body, dict) else None


_RESOLVED: dict[tuple, tuple[str | None, dict]] = {}
_RESOLVED_MAX = 4096


def _resolved(path: str) -> tuple[str | None, dict]:
    """The URL name and kwargs of a path (None and {} when nothing matches), kept per
    path and URLconf: the API's few endpoints resolve once per process instead of on
    every request. Paths with an account in them are as many as the accounts: the
    memo is dropped whole when it reaches _RESOLVED_MAX paths."""
    key = (get_urlconf(), settings.ROOT_URLCONF, path)
    found = _RESOLVED.get(key)
    if found is None:
        try:
            match = resolve(path)
            found = (match.url_name, match.kwargs)
        except Resolver404:
            found = (None, {})
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        _RESOLVED[key] = found
    return found[0], dict(found[1])


def _count(counters: list[Counter], writes: dict[str, str] | None = None) -> list[Usage]:
    """One more request on each counter, with the cache entries `writes` written in the
    same round trip; nothing when the cache is down: serve rather than refuse everyone
    (healthz reports it)."""
    try:
        return rate_counters.count(counters, writes=writes)[1]
    except Exception:
        logger.warning(
            "event=ratelimit_cache_error group=%s",
            counters[0][0],
            exc_info=True,
        )
        if writes:
            market_snapshots.bump_failed()
        return []


def _ban_and_count(
    clients: list[str], counters: list[Counter], moment: datetime, peeks: Sequence[Counter] = ()
) -> tuple[ActiveBan | None, list[Usage], str | None]:
    """The ban in force on any of `clients`, else one more request on each counter and
    what each of `peeks` would say with it counted: the cached ban states are read and
    the counters counted in one cache round trip (rate_counters.count). A banned request
    is not counted: its counts are taken back (one more round trip, only then). The
    reference cache's generation token is read in that round trip too and returned third
    (None if unread), for the request's lookups (reference_cache.generation_prefetched)."""
    ban_keys = ban_cache_keys(clients)
    reads = [*ban_keys.values(), reference_cache.GENERATION_KEY]
    try:
        found, usages = rate_counters.count(counters, list(peeks), reads)
    except Exception:
        # The cache is down: serve rather than refuse everyone (healthz reports it).
        logger.warning("event=ratelimit_cache_error group=count", exc_info=True)
        return ban_active(clients=clients, now=moment), [], None
    generation = found.get(reference_cache.GENERATION_KEY)
    cached = {client: found[key] for client, key in ban_keys.items() if key in found}
    ban = ban_from_cached(clients=clients, cached=cached, now=moment)
    if ban is not None:
        try:
            rate_counters.uncount(counters)
        except Exception:
            logger.warning("event=ratelimit_cache_error group=uncount", exc_info=True)
        return ban, [], generation
    return None, usages, generation


def _shared_cache() -> bool:
    """Whether the counters live in the cache the market data's versions do (the
    default one), so that one round trip can write both."""
    return settings.RATELIMIT_USE_CACHE == DEFAULT_CACHE_ALIAS


def _json(status: int, code: int, reason: str) -> JsonResponse:
    return JsonResponse(error_body(code, reason), status=status)


def _banned(ban: ActiveBan | Ban, moment: datetime) -> JsonResponse:
    response = _json(418, 418, f"Banned until {ban.until:%Y-%m-%d %H:%M:%S} UTC: {ban.reason}")
    response["Retry-After"] = str(max(1, int((ban.until - moment).total_seconds())))
    return response


def _counter(cost_class: str, value: str, limits) -> Counter:
    return (
        f"api:{cost_class}:{value.split(':')[0]}",
        value,
        limits.account_limit,
        limits.window_seconds,
    )


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_rate_limited_path(request.path_info):
            return self.get_response(request)
        moment = now()
        url_name, url_kwargs = _resolved(request.path_info)
        cost_class = cost_class_of(url_name)
        limits = rate_limits_get(cost_class=cost_class)
        ip_client = f"ip:{client_ip(request)}"

        api_key, key_refusal = None, None
        raw_key = request.headers.get(API_KEY_HEADER)
        if raw_key is not None:
            api_key = api_key_find(raw_key=raw_key.strip())
            security_type = security_type_of(url_name)
            if api_key is None:
                key_refusal = _json(401, 401, "Unknown or revoked API key")
            elif security_type and not api_key.allows(security_type):
                key_refusal = _json(
                    403, 403, f"This API key does not allow {security_type} endpoints"
                )

        body_refusal = None
        if _content_length(request) > settings.API_MAX_BODY_BYTES:
            body_refusal = _json(
                400,
                Code.MALFORMED_JSON,
                f"Malformed JSON: body over {settings.API_MAX_BODY_BYTES} bytes",
            )

        peeks = []
        if api_key is not None:
            client = f"key:{api_key.pk}"
            counters = [(client, api_key.rate_limit_multiplier * limits.api_key_limit)]
        else:
            client = ip_client
            counters = [(client, limits.ip_limit)]
            account = None if body_refusal else request_account(request, url_kwargs)
            if account and request.method in _WRITE_METHODS:
                # Looked at, not counted: only the account's own verified writes count.
                peeks.append(_counter(cost_class, f"account:{account}", limits))

        ban, usages, generation = _ban_and_count(
            sorted({ip_client, client}),
            [
                (f"api:{cost_class}:{value.split(':')[0]}", value, limit, limits.window_seconds)
                for value, limit in counters
            ],
            moment,
            peeks,
        )
        response: HttpResponse
        if ban is not None:
            response = _banned(ban, moment)
            limit = min(limit for _, limit in counters)
            retry_after = int(response["Retry-After"])
            return self._with_headers(response, Usage(limit, limit + 1, retry_after), moment)
        tightest = min(usages, key=lambda usage: usage.remaining, default=None)
        over = [usage for usage in usages if usage.exceeded]
        if over:
            response = self._throttled(request, client, moment, max(u.time_left for u in over))
        elif key_refusal is not None:
            response = key_refusal
        elif body_refusal is not None:
            response = body_refusal
        else:
            signers = verified_signers_track()
            prefetched = reference_cache.generation_prefetched(generation)
            # The market data's new versions committed by the view are written with the
            # signers' count below, in its round trip; the deferral's exit sends any it
            # did not take (nothing to count, the view raised). Either way before the
            # response leaves.
            with market_snapshots.bumps_deferred():
                try:
                    response = self.get_response(request)
                finally:
                    reference_cache.generation_prefetched_end(prefetched)
                    verified_signers_untrack()
                if api_key is None and response.status_code < 400 and signers:
                    # Every signer's account counted in one cache round trip.
                    _count(
                        [_counter(cost_class, f"account:{s}", limits) for s in sorted(signers)],
                        market_snapshots.bumps_taken() if _shared_cache() else None,
                    )
        if tightest is None:
            limit = min(limit for _, limit in counters)
            tightest = Usage(limit, 0, limits.window_seconds)
        return self._with_headers(response, tightest, moment)

    def _throttled(
        self, request: HttpRequest, client: str, moment: datetime, time_left: int
    ) -> JsonResponse:
        strike = (
            "api:strikes",
            client,
            settings.RATELIMIT_BAN_AFTER,
            settings.RATELIMIT_BAN_WINDOW,
        )
        strikes = next(iter(_count([strike])), None)
        if strikes is not None and strikes.exceeded:
            reason = f"kept sending after 429 ({strikes.count} throttled requests)"
            ban = ban_impose(client=client, reason=reason, now=moment)
            logger.warning(
                "event=client_banned client=%s until=%s strikes=%s",
                client,
                ban.until.isoformat(),
                ban.strikes,
            )
            return _banned(ban, moment)
        response = _json(429, Code.THROTTLED, f"Rate limit exceeded; retry in {time_left} s")
        response["Retry-After"] = str(max(1, time_left))
        return response

    @staticmethod
    def _with_headers(response: HttpResponse, usage: Usage, moment: datetime) -> HttpResponse:
        response["X-RateLimit-Limit"] = str(usage.limit)
        response["X-RateLimit-Remaining"] = str(usage.remaining)
        response["X-RateLimit-Reset"] = str(int(moment.timestamp()) + usage.time_left)
        return response
