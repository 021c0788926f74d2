"""The operator admin: networks, tokens, markets, fee schedules, transfers and trades."""

from django.contrib import admin, messages
from django.utils import timezone

from exchange.models import (
    ApiKey,
    Ban,
    FeeSchedule,
    Market,
    MarketStatus,
    Network,
    RateLimitPolicy,
    SettlementStatus,
    Token,
    Trade,
    Transfer,
)
from exchange.selectors.access import access_forget, rate_limits_forget
from exchange.services.api_keys import api_key_issue, api_key_revoke
from exchange.services.bans import ban_lift
from exchange.services.trade_settlement import settlement_resume, trade_settlement_retry


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "enabled",
        "order_submission_enabled",
        "settlement",
        "last_reconciliation",
        "confirmations",
        "exchange_address",
        "rpc_url",
    )
    list_editable = ("enabled", "order_submission_enabled")
    list_filter = ("enabled", "order_submission_enabled", "settlement_halted")
    search_fields = ("id", "name", "exchange_address")
    actions = ["disable_order_submission", "enable_order_submission", "resume_settlement"]

    def get_readonly_fields(self, request, obj=None):
        # The chain id is the primary key every order, trade and balance points at.
        # The settlement halt is set by the settler and lifted only by the action.
        halt = ("settlement_halted", "settlement_halt_reason", "settlement_halted_at")
        if obj:
            return ("id", *halt, "created_at", "updated_at")
        return (*halt, "created_at", "updated_at")

    @admin.display(description="settlement", ordering="settlement_halted")
    def settlement(self, obj: Network) -> str:
        return "HALTED" if obj.settlement_halted else "running"

    @admin.display(description="last reconciliation")
    def last_reconciliation(self, obj: Network) -> str:
        from chain.models import ReconciliationRun

        run = ReconciliationRun.objects.filter(network=obj).first()
        if run is None:
            return "never"
        state = {True: "ok", False: "DIFFERENCES", None: "running"}[run.ok]
        return f"{state} ({run.started_at:%Y-%m-%d %H:%M})"

    def _warn_halted(self, request, networks) -> None:
        for network in networks:
            messages.error(
                request,
                f"Settlement is HALTED on {network} since "
                f"{network.settlement_halted_at:%Y-%m-%d %H:%M:%S} UTC: "
                f"{network.settlement_halt_reason} The ledger and the contract disagree: "
                "see the FAILED trade (Trades, filter by settlement status), repair, then "
                "use the action 'Resume settlement'.",
            )

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._warn_halted(request, Network.objects.filter(settlement_halted=True))
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            self._warn_halted(request, Network.objects.filter(pk=object_id, settlement_halted=True))
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Resume settlement (after investigating the FAILED trade)")
    def resume_settlement(self, request, queryset):
        resumed = [n.id for n in queryset if settlement_resume(network_id=n.id)]
        self.message_user(
            request,
            f"Settlement resumed on {len(resumed)} network(s). FAILED trades stay FAILED "
            "unless retried (Trades: 'Retry settlement').",
        )

    @admin.action(description="Disable order submission (new orders and trades get code 102)")
    def disable_order_submission(self, request, queryset):
        count = queryset.update(order_submission_enabled=False)
        self.message_user(request, f"Order submission disabled on {count} network(s).")

    @admin.action(description="Enable order submission")
    def enable_order_submission(self, request, queryset):
        count = queryset.update(order_submission_enabled=True)
        self.message_user(request, f"Order submission enabled on {count} network(s).")


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "name",
        "network",
        "address",
        "decimals",
        "listed",
        "withdrawal_fee",
        "trade_gas_fee",
    )
    list_filter = ("network", "listed")
    list_editable = ("listed",)
    search_fields = ("symbol", "name", "address")
    list_select_related = ("network",)

    def get_readonly_fields(self, request, obj=None):
        # Balances and orders are in base units of this exact contract and precision.
        return ("network", "address", "decimals", "created_at") if obj else ("created_at",)


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ("name", "network", "base", "quote", "status", "created_at")
    list_filter = ("network", "status")
    list_editable = ("status",)
    search_fields = ("base__symbol", "quote__symbol")
    list_select_related = ("network", "base", "quote")
    actions = ["set_trading", "set_cancel_only", "set_halted"]

    def get_readonly_fields(self, request, obj=None):
        # A market's orders and trades are priced in its pair; a new pair is a new market.
        return ("network", "base", "quote", "created_at") if obj else ("created_at",)

    def _set_status(self, request, queryset, status):
        count = queryset.update(status=status)
        self.message_user(request, f"{count} market(s) set to {status.label}.")

    @admin.action(description="Set trading")
    def set_trading(self, request, queryset):
        self._set_status(request, queryset, MarketStatus.TRADING)

    @admin.action(description="Set cancel-only (new orders refused, cancels allowed)")
    def set_cancel_only(self, request, queryset):
        self._set_status(request, queryset, MarketStatus.CANCEL_ONLY)

    @admin.action(description="Halt (orders and trades refused with code 102)")
    def set_halted(self, request, queryset):
        self._set_status(request, queryset, MarketStatus.HALTED)


@admin.register(FeeSchedule)
class FeeScheduleAdmin(admin.ModelAdmin):
    list_display = ("network", "maker_fee", "taker_fee", "effective_at", "in_force")
    list_filter = ("network",)
    date_hierarchy = "effective_at"
    list_select_related = ("network",)

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj: FeeSchedule) -> bool:
        current = FeeSchedule.objects.in_force(obj.network)
        return current is not None and current.pk == obj.pk

    def get_readonly_fields(self, request, obj=None):
        # Trades were charged under a schedule that took effect: it is history now.
        if obj and obj.has_taken_effect:
            return ("network", "maker_fee", "taker_fee", "effective_at", "created_at")
        return ("created_at",)

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.has_taken_effect

    def get_actions(self, request):
        # The bulk delete asks has_delete_permission without an object: it would
        # delete schedules that have taken effect. Delete one at a time instead.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.effective_at > timezone.now():
            messages.info(
                request, f"The schedule takes effect at {obj.effective_at:%Y-%m-%d %H:%M} UTC."
            )


@admin.register(RateLimitPolicy)
class RateLimitPolicyAdmin(admin.ModelAdmin):
    list_display = ("cost_class", "window_seconds", "ip_limit", "account_limit", "api_key_limit")
    list_editable = ("window_seconds", "ip_limit", "account_limit", "api_key_limit")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rate_limits_forget()
        messages.info(request, "Other web processes apply the change within RATELIMIT_POLICY_TTL.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "allow_trade",
        "allow_user_data",
        "rate_limit_multiplier",
        "created_at",
        "revoked_at",
    )
    list_filter = ("allow_trade", "allow_user_data", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    actions = ["revoke"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            access_forget(key_hashes=[obj.key_hash])  # new scopes apply at once
            return
        issued, raw_key = api_key_issue(
            name=obj.name,
            allow_trade=obj.allow_trade,
            allow_user_data=obj.allow_user_data,
            rate_limit_multiplier=obj.rate_limit_multiplier,
        )
        obj.pk = issued.pk
        obj.prefix, obj.key_hash, obj.created_at = issued.prefix, issued.key_hash, issued.created_at
        messages.warning(
            request,
            f"The API key for {obj.name} is {raw_key} . Copy it now: it is stored hashed "
            "and will not be shown again.",
        )

    @admin.action(description="Revoke (the key is refused with 401 from now on)")
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
        self.message_user(request, "Revoked.")


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ("client", "reason", "until", "in_force", "strikes", "updated_at")
    search_fields = ("client",)
    readonly_fields = ("client", "reason", "until", "strikes", "created_at", "updated_at")
    actions = ["lift"]

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj: Ban) -> bool:
        return obj.until > timezone.now()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # lift instead: the strikes are the escalation's memory

    @admin.action(description="Lift (ends the ban now and forgives its strikes)")
    def lift(self, request, queryset):
        now = timezone.now()
        for ban in queryset:
            ban_lift(ban=ban, now=now)
        self.message_user(request, f"Lifted {queryset.count()} ban(s).")


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Deposits and withdrawals, read-only: the workers move them, the ledger records them.
    A withdrawal stuck in PENDING or PROCESSING shows why in `error`."""

    list_display = (
        "id",
        "kind",
        "network",
        "account",
        "token",
        "amount",
        "status",
        "transaction_hash",
        "block_number",
        "error",
        "created_at",
    )
    list_filter = ("network", "kind", "status")
    search_fields = ("account", "transaction_hash", "hash")
    list_select_related = ("network", "token")
    exclude = ("raw_transaction",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    """Trades, read-only: the ledger booked them; the settler carries them to the chain.
    A FAILED trade halted its network's settlement: its reason is in settlement_error."""

    list_display = (
        "id",
        "network",
        "market",
        "maker",
        "taker",
        "take_amount",
        "give_amount",
        "settlement_status",
        "transaction_hash",
        "gas_used",
        "settlement_error",
        "created_at",
    )
    list_filter = ("settlement_status", "network", "market")
    search_fields = ("=uuid", "=hash", "maker", "taker", "transaction_hash")
    list_select_related = ("network", "market__base", "market__quote")
    exclude = ("raw_transaction",)
    actions = ["retry_settlement"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            for network in Network.objects.filter(settlement_halted=True):
                messages.error(
                    request,
                    f"Settlement is HALTED on {network}: {network.settlement_halt_reason}",
                )
        return super().changelist_view(request, extra_context)

    @admin.action(description="Retry settlement of FAILED trades (sent again once resumed)")
    def retry_settlement(self, request, queryset):
        failed = queryset.filter(settlement_status=SettlementStatus.FAILED)
        count = sum(trade_settlement_retry(trade_id=trade.id) for trade in failed)
        self.message_user(request, f"{count} trade(s) queued for settlement again.")
