"""Rate limits, API keys and bans for every API request, in one middleware.

Each request is counted, with django-ratelimit's counters in the shared cache, in
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import django_ratelimit.core as ratelimit_core
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django_ratelimit.core import (
    ALL,
    EXPIRATION_FUDGE,
    _get_window,
    _make_cache_key,
    get_usage,
)

from exchange.api.errors import Code, error_body
from exchange.api.parsers import json_loads_bounded
from exchange.api.security import cost_class_of, security_type_of
from exchange.models import Ban
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


@dataclass(frozen=True)
class Usage:
    limit: int
    count: int
    time_left: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def _count(
    request: HttpRequest, group: str, value: str, limit: int, window: int, increment: bool = True
) -> Usage | None:
    """One more request in `group` for `value`, with django-ratelimit's counter; without
    `increment`, what the counter would say if this request were counted."""
    try:
        usage = get_usage(
            request,
            group=group,
            key=lambda _group, _request: value,
            rate=(limit, window),
            increment=increment,
        )
    except Exception:
        # The cache is down: serve rather than refuse everyone (healthz reports it).
        logger.warning("event=ratelimit_cache_error group=%s", group, exc_info=True)
        return None
    if usage is None:
        return None
    count = usage["count"] + (0 if increment else 1)
    return Usage(limit=usage["limit"], count=count, time_left=max(0, usage["time_left"]))


def _redis_cache() -> RedisCache | None:
    store = caches[settings.RATELIMIT_USE_CACHE]
    return store if isinstance(store, RedisCache) else None


Counter = tuple[str, str, int, int]  # (group, value, limit, window)


def _counter_keys(store: RedisCache, counters: list[Counter]) -> tuple[list[str], list[int]]:
    """The cache keys and window ends django-ratelimit would use for these counters."""
    keys, ends = [], []
    for group, value, limit, window in counters:
        end = _get_window(value, window)
        raw = _make_cache_key(group, end, (limit, window), value, ALL)
        keys.append(store.make_and_validate_key(raw))
        ends.append(end)
    return keys, ends


def _usages(counters: list[Counter], ends: list[int], counts: list) -> list[Usage]:
    moment = int(ratelimit_core.time.time())  # get_usage's clock (tests freeze it)
    return [
        Usage(limit=limit, count=int(count), time_left=max(0, end - moment))
        for (_, _, limit, _), end, count in zip(counters, ends, counts, strict=True)
    ]


def _ban_and_count(
    request: HttpRequest,
    clients: list[str],
    counters: list[Counter],
    moment: datetime,
    peeks: list[Counter] = (),
) -> tuple[ActiveBan | None, list[Usage]]:
    """The ban in force on any of `clients`, else one more request on each counter, and
    what each of `peeks` would say with this request counted (nothing written there).

    With the Redis cache, one pipelined round trip: MGET of the cached ban states,
    then SET NX EX + INCR per counter (django-ratelimit's keys and windows), GET per
    peek. A banned request is not counted: its increments are taken back (one more
    round trip, only then). Else (no Redis): ban_active, then get_usage one by one.
    """
    store = _redis_cache()
    if store is None:
        ban = ban_active(clients=clients, now=moment)
        if ban is not None:
            return ban, []
        usages = [_count(request, *counter) for counter in counters]
        usages += [_count(request, *peek, increment=False) for peek in peeks]
        return None, [usage for usage in usages if usage is not None]
    ban_keys = ban_cache_keys(clients)
    versioned = [store.make_and_validate_key(key) for key in ban_keys.values()]
    try:
        keys, ends = _counter_keys(store, counters)
        peek_keys, peek_ends = _counter_keys(store, list(peeks))
        pipe = store._cache.get_client(keys[0], write=True).pipeline(transaction=False)
        pipe.mget(versioned)
        for key, (_, _, _, window) in zip(keys, counters, strict=True):
            pipe.set(key, 0, ex=window + EXPIRATION_FUDGE, nx=True)
            pipe.incr(key)
        for key in peek_keys:
            pipe.get(key)
        replies = pipe.execute()
    except Exception:
        # The cache is down: serve rather than refuse everyone (healthz reports it).
        logger.warning("event=ratelimit_cache_error group=pipeline", exc_info=True)
        return ban_active(clients=clients, now=moment), []
    loads = store._cache._serializer.loads
    cached = {
        client: loads(raw)
        for client, raw in zip(ban_keys, replies[0], strict=True)
        if raw is not None
    }
    ban = ban_from_cached(clients=clients, cached=cached, now=moment)
    if ban is not None:
        _uncount(store, keys)
        return ban, []
    counted = 2 * len(counters)
    peeked = [int(raw or 0) + 1 for raw in replies[1 + counted :]]
    return None, _usages(counters, ends, replies[2 : 1 + counted : 2]) + _usages(
        list(peeks), peek_ends, peeked
    )


def _uncount(store: RedisCache, keys: list[str]) -> None:
    try:
        pipe = store._cache.get_client(keys[0], write=True).pipeline(transaction=False)
        for key in keys:
            pipe.decr(key)
        pipe.execute()
    except Exception:
        logger.warning("event=ratelimit_cache_error group=uncount", exc_info=True)


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
        try:
            match = resolve(request.path_info)
            url_name, url_kwargs = match.url_name, match.kwargs
        except Resolver404:
            url_name, url_kwargs = None, {}
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

        ban, usages = _ban_and_count(
            request,
            sorted({ip_client, client}),
            [
                (f"api:{cost_class}:{value.split(':')[0]}", value, limit, limits.window_seconds)
                for value, limit in counters
            ],
            moment,
            peeks,
        )
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
            try:
                response = self.get_response(request)
            finally:
                verified_signers_untrack()
            if api_key is None and response.status_code < 400:
                for signer in sorted(signers):
                    _count(request, *_counter(cost_class, f"account:{signer}", limits))
        if tightest is None:
            limit = min(limit for _, limit in counters)
            tightest = Usage(limit, 0, limits.window_seconds)
        return self._with_headers(response, tightest, moment)

    def _throttled(
        self, request: HttpRequest, client: str, moment: datetime, time_left: int
    ) -> JsonResponse:
        strikes = _count(
            request,
            "api:strikes",
            client,
            settings.RATELIMIT_BAN_AFTER,
            settings.RATELIMIT_BAN_WINDOW,
        )
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
