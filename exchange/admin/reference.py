"""The operator admin of the reference data: networks, tokens, markets, fee schedules."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from exchange.models import (
    FeeSchedule,
    Maintenance,
    Market,
    MarketRules,
    MarketStatus,
    Network,
    Token,
)
from exchange.services.maintenance import ALREADY_OPEN, maintenance_end, maintenance_start
from exchange.services.operations import market_status_set
from exchange.services.trade_settlement import settlement_resume


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "enabled",
        "order_submission_enabled",
        "settlement",
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
        "withdrawal_minimum",
        "amount_precision",
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
        operator = request.user.get_username()
        markets = list(queryset)
        for market in markets:
            market_status_set(market=market, status=status, operator=operator)
        self.message_user(request, f"{len(markets)} market(s) set to {status.label}.")

    @admin.action(description="Set trading")
    def set_trading(self, request, queryset):
        self._set_status(request, queryset, MarketStatus.TRADING)

    @admin.action(description="Set cancel-only (new orders refused, cancels allowed)")
    def set_cancel_only(self, request, queryset):
        self._set_status(request, queryset, MarketStatus.CANCEL_ONLY)

    @admin.action(description="Halt (orders and trades refused with code 102)")
    def set_halted(self, request, queryset):
        self._set_status(request, queryset, MarketStatus.HALTED)


class FromATimeOnAdmin(admin.ModelAdmin):
    """Rows with history that apply from `effective_at` on, one in force at a time per
    `scope` (FeeSchedule per network, MarketRules per market): a change is a new row from a
    time on, and a row that has taken effect is history, read-only and kept."""

    scope: str  # the field whose rows replace each other
    changeable: tuple[str, ...]  # the fields that freeze when the row takes effect
    recorded: tuple[str, ...]  # the fields written by the system, always read-only
    taking_effect: str  # "The schedule takes" / "The rules take"
    date_hierarchy = "effective_at"

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj) -> bool:
        current = type(obj).objects.in_force(getattr(obj, self.scope))
        return current is not None and current.pk == obj.pk

    def get_readonly_fields(self, request, obj=None):
        if obj and obj.has_taken_effect:
            return (*self.changeable, *self.recorded)
        return self.recorded

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.has_taken_effect

    def get_actions(self, request):
        # The bulk delete asks has_delete_permission without an object: it would
        # delete rows that have taken effect. Delete one at a time instead.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.effective_at > timezone.now():
            messages.info(
                request, f"{self.taking_effect} effect at {obj.effective_at:%Y-%m-%d %H:%M} UTC."
            )


@admin.register(FeeSchedule)
class FeeScheduleAdmin(FromATimeOnAdmin):
    """Trades were charged under a schedule that took effect: it is history now."""

    changeable = ("network", "maker_fee", "taker_fee", "effective_at")
    list_display = (*changeable, "in_force")
    list_filter = ("network",)
    list_select_related = ("network",)
    scope = "network"
    recorded = ("created_at",)
    taking_effect = "The schedule takes"


@admin.register(MarketRules)
class MarketRulesAdmin(FromATimeOnAdmin):
    """Orders already open when the rules change are not touched (docs/markets.md)."""

    changeable = (
        "market",
        "price_tick",
        "amount_step",
        "min_total",
        "max_open_orders",
        "effective_at",
    )
    list_display = (*changeable, "in_force", "created_by")
    list_filter = ("market__network", "market")
    list_select_related = ("market__base", "market__quote")
    scope = "market"
    recorded = ("created_by", "created_at")
    taking_effect = "The rules take"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)


class MaintenanceForm(forms.ModelForm):
    class Meta:
        model = Maintenance
        fields = ("reason",)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and Maintenance.objects.filter(ended_at__isnull=True).exists():
            raise forms.ValidationError(ALREADY_OPEN)
        return cleaned


@admin.register(Maintenance)
class MaintenanceAdmin(admin.ModelAdmin):
    """The exchange-wide read-only switch: add a period with a reason to turn it on
    (every write endpoint answers code 102 with that reason), the action 'End
    maintenance' turns it off. Every period stays listed with who and when."""

    form = MaintenanceForm
    list_display = ("started_at", "reason", "started_by", "ended_at", "ended_by", "state")
    actions = ["end_maintenance"]

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ("reason", "started_at", "started_by", "ended_at", "ended_by")
        return ("started_at", "started_by", "ended_at", "ended_by")

    @admin.display(description="state")
    def state(self, obj: Maintenance) -> str:
        return "ON (read-only)" if obj.ended_at is None else "ended"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return  # every field of a period is read-only once it is open
        started = maintenance_start(reason=obj.reason, by=request.user.get_username())
        obj.pk, obj.started_by, obj.started_at = started.pk, started.started_by, started.started_at

    @admin.action(description="End maintenance (writes accepted again)")
    def end_maintenance(self, request, queryset):
        count = maintenance_end(by=request.user.get_username())
        self.message_user(request, f"{count} maintenance period(s) ended.", messages.SUCCESS)
