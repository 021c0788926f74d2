"""What operators control about API access: rate-limit policy, API keys, bans."""

import hashlib

from django.core.validators import MinValueValidator
from django.db import models


class CostClass(models.TextChoices):
    LIGHT = "light", "Light (reference data)"
    QUERY = "query", "Query (paginated reads, order book, history)"
    WRITE = "write", "Write (orders, cancels, trades, withdrawals)"


# Requests per window for a cost class that has no policy row, per client IP,
# per account and per API key.
DEFAULT_LIMITS = {
    CostClass.LIGHT: (3600, 3600, 36000),
    CostClass.QUERY: (1200, 1200, 12000),
    CostClass.WRITE: (600, 600, 6000),
}
DEFAULT_WINDOW_SECONDS = 3600


class RateLimitPolicy(models.Model):
    """The limits of one cost class; every endpoint belongs to one (exchange/api/security.py).

    Heavier endpoints have smaller limits: that is how cost weighs. Each class is
    counted separately, so X-RateLimit-Limit is a number of requests to that endpoint's class.
    """

    cost_class = models.CharField(max_length=8, choices=CostClass, unique=True)
    window_seconds = models.PositiveIntegerField(
        default=DEFAULT_WINDOW_SECONDS, validators=[MinValueValidator(1)]
    )
    ip_limit = models.PositiveIntegerField("requests per client IP")
    account_limit = models.PositiveIntegerField(
        "requests per account", help_text="Counted on the `account` parameter when present."
    )
    api_key_limit = models.PositiveIntegerField(
        "requests per API key",
        help_text="Replaces the IP and account limits for a request with a valid key.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cost_class"]
        verbose_name_plural = "rate-limit policies"

    def __str__(self) -> str:
        return f"{self.cost_class}: {self.ip_limit}/{self.window_seconds}s per IP"


class SecurityType(models.TextChoices):
    TRADE = "TRADE", "TRADE (create/delete orders, trades, withdrawals)"
    USER_DATA = "USER_DATA", "USER_DATA (an account's orders, trades, transfers, balances)"


def api_key_hash(raw_key: str) -> str:
    # The keys are 256 random bits, so a plain sha256 cannot be brute-forced.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """An operator-issued key sent in X-API-KEY. Only its sha256 is stored."""

    name = models.CharField(max_length=100, help_text="Who holds it.")
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    allow_trade = models.BooleanField("TRADE", default=True)
    allow_user_data = models.BooleanField("USER_DATA", default=True)
    rate_limit_multiplier = models.PositiveIntegerField(
        default=1, help_text="Multiplies the policy's per-key limits for this key."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, security_type: str) -> bool:
        if security_type == SecurityType.TRADE:
            return self.allow_trade
        if security_type == SecurityType.USER_DATA:
            return self.allow_user_data
        return True


class Ban(models.Model):
    """A client (IP or API key) refused with 418 until `until` for sending on after 429s."""

    client = models.CharField(max_length=120, unique=True, help_text="ip:<address> or key:<id>")
    reason = models.CharField(max_length=255)
    until = models.DateTimeField(db_index=True)
    strikes = models.PositiveIntegerField(
        default=0, help_text="Bans in a row: each doubles the next one's length."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-until"]

    def __str__(self) -> str:
        return f"{self.client} until {self.until:%Y-%m-%d %H:%M:%S}"
