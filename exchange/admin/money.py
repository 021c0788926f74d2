"""The operator admin of money: orders, balances, ledger entries, trades, transfers.

View only: every row here is history the ledger, the order book or the chain workers
wrote under their own rules, so the admin adds, changes and deletes none of them.
Amounts show in base units (what the database and the contract hold) and, below, in
human units of the token (its `decimals`). Searches take a whole address or hash
(lower-cased, exact, so they use the indexes) or, on some lists, a reference.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.html import format_html

from exchange.models import (
    Balance,
    LedgerEntry,
    Network,
    Order,
    SettlementStatus,
    Token,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.trade_reversal import ReversalRefused, trade_reverse
from exchange.services.trade_settlement import trade_settlement_retry
from exchange.services.withdrawal_retry import WithdrawalRetryRefused, withdrawal_retry
from exchange.trading_math import to_human


def amount_html(amount, token: Token | None):
    """'1500000' over '1.5 USDC': base units first, the human amount beneath."""
    if amount is None:
        return "-"
    if token is None:
        return str(int(amount))
    human = format(to_human(int(amount), token.decimals).normalize(), "f")
    return format_html(
        '<span class="base-units">{}</span><br>'
        '<span class="human-amount" title="{} decimals" style="white-space:nowrap">{} {}</span>',
        int(amount),
        token.decimals,
        human,
        token.symbol,
    )


def price_text(price) -> str:
    """A price as stored (36 places) shown without its trailing zeros, exactly."""
    if price is None:
        return "-"
    return format(price.normalize(), "f")


def short_text(value: str, length: int = 48):
    """Long text (an error) cut to `length` characters in a list, the whole on hover."""
    if not value:
        return "-"
    if len(value) <= length:
        return value
    return format_html('<span title="{}">{}…</span>', value, value[: length - 1])


def short_hex(value: str):
    """An address or hash shortened to 0x1234…abcd, the whole value on hover."""
    if not value:
        return "-"
    return format_html(
        '<span title="{}" style="white-space:nowrap">{}…{}</span>', value, value[:6], value[-4:]
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages only. Search terms that look like an address or a hash
    are matched exactly (lower-case) on `exact_search_fields`."""

    exact_search_fields: tuple[str, ...] = ()
    show_full_result_count = False  # no COUNT(*) of a large table on every page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lower()
        if term.startswith("0x") and self.exact_search_fields:
            query = None
            for field in self.exact_search_fields:
                q = Q(**{field: term})
                query = q if query is None else query | q
            return queryset.filter(query), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "short_hash",
        "short_account",
        "market",
        "side",
        "price_shown",
        "give",
        "take",
        "filled_amount",
        "status",
        "created_at",
    )
    list_filter = ("status", "side", "market")
    search_fields = ("=hash", "=account")
    exact_search_fields = ("hash", "account")
    list_select_related = ("market__base", "market__quote", "give_token", "take_token")
    exclude = ("signature", "price")
    readonly_fields = ("price_shown",)
    date_hierarchy = "created_at"

    @admin.display(description="price (BASE per QUOTE)", ordering="price")
    def price_shown(self, obj: Order):
        return price_text(obj.price)

    @admin.display(description="hash", ordering="hash")
    def short_hash(self, obj: Order):
        return short_hex(obj.hash)

    @admin.display(description="account", ordering="account")
    def short_account(self, obj: Order):
        return short_hex(obj.account)

    @admin.display(description="give")
    def give(self, obj: Order):
        return amount_html(obj.give_amount, obj.give_token)

    @admin.display(description="take")
    def take(self, obj: Order):
        return amount_html(obj.take_amount, obj.take_token)

    @admin.display(description="filled (take token)")
    def filled_amount(self, obj: Order):
        return amount_html(obj.filled, obj.take_token)


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ("account", "token", "total_amount", "held_amount", "available_amount")
    list_filter = ("network", "token")
    search_fields = ("=account",)
    exact_search_fields = ("account",)
    list_select_related = ("token",)

    @admin.display(description="total", ordering="total")
    def total_amount(self, obj: Balance):
        return amount_html(obj.total, obj.token)

    @admin.display(description="held", ordering="held")
    def held_amount(self, obj: Balance):
        return amount_html(obj.held, obj.token)

    @admin.display(description="available")
    def available_amount(self, obj: Balance):
        return amount_html(obj.available, obj.token)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "token",
        "kind",
        "total_change",
        "held_change",
        "total_after_amount",
        "held_after_amount",
        "reference",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("=reference",)
    exact_search_fields = ("balance__account", "reference")
    list_select_related = ("balance__token",)

    @admin.display(description="account", ordering="balance__account")
    def account(self, obj: LedgerEntry):
        return short_hex(obj.balance.account)

    @admin.display(description="token")
    def token(self, obj: LedgerEntry) -> str:
        return obj.balance.token.symbol

    @admin.display(description="total Δ")
    def total_change(self, obj: LedgerEntry):
        return amount_html(obj.total_delta, obj.balance.token)

    @admin.display(description="held Δ")
    def held_change(self, obj: LedgerEntry):
        return amount_html(obj.held_delta, obj.balance.token)

    @admin.display(description="total after")
    def total_after_amount(self, obj: LedgerEntry):
        return amount_html(obj.total_after, obj.balance.token)

    @admin.display(description="held after")
    def held_after_amount(self, obj: LedgerEntry):
        return amount_html(obj.held_after, obj.balance.token)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    """A FAILED trade is quarantined (the contract refused it; the others keep settling):
    its reason is in settlement_error. Two actions resolve it: retry queues it for the
    settler again (the contract settles each trade hash once, so a retry cannot settle
    twice); reverse undoes its ledger legs for good (exchange/services/trade_reversal.py)."""

    list_display = (
        "created_at",
        "uuid_short",
        "market",
        "maker_short",
        "taker_short",
        "give",
        "take",
        "fees",
        "settlement_status",
        "settlement_error_short",
        "transaction_short",
    )
    list_filter = ("settlement_status", "network", "market")
    search_fields = ("=uuid",)
    exact_search_fields = ("hash", "maker", "taker", "transaction_hash")
    list_select_related = (
        "market__base",
        "market__quote",
        "give_token",
        "take_token",
        "gas_fee_token",
    )
    exclude = ("raw_transaction", "price")
    readonly_fields = ("price_shown",)
    actions = ["retry_settlement", "reverse_trades"]

    @admin.display(description="uuid", ordering="uuid")
    def uuid_short(self, obj: Trade):
        text = str(obj.uuid)
        return format_html('<span title="{}" style="white-space:nowrap">{}…</span>', text, text[:8])

    @admin.display(description="settlement error")
    def settlement_error_short(self, obj: Trade):
        return short_text(obj.settlement_error, 32)

    @admin.display(description="price (BASE per QUOTE)", ordering="price")
    def price_shown(self, obj: Trade):
        return price_text(obj.price)

    def has_retry_permission(self, request) -> bool:
        # The row stays read-only; retrying is an operation, allowed to who may change trades.
        return request.user.has_perm("exchange.change_trade")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term and not term.lower().startswith("0x"):
            try:
                return queryset.filter(uuid=term), False
            except ValidationError:  # not a UUID
                return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="maker", ordering="maker")
    def maker_short(self, obj: Trade):
        return short_hex(obj.maker)

    @admin.display(description="taker", ordering="taker")
    def taker_short(self, obj: Trade):
        return short_hex(obj.taker)

    @admin.display(description="transaction")
    def transaction_short(self, obj: Trade):
        return short_hex(obj.transaction_hash)

    @admin.display(description="maker gave")
    def give(self, obj: Trade):
        return amount_html(obj.give_amount, obj.give_token)

    @admin.display(description="maker took")
    def take(self, obj: Trade):
        return amount_html(obj.take_amount, obj.take_token)

    @admin.display(description="fees: maker, taker, gas")
    def fees(self, obj: Trade):
        # maker's fee in the take token; the taker's and the gas fee in the give token.
        return format_html(
            "{}<br>{}<br>{}",
            amount_html(obj.maker_fee, obj.take_token),
            amount_html(obj.taker_fee, obj.give_token),
            amount_html(obj.gas_fee, obj.gas_fee_token or obj.give_token),
        )

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            for network in Network.objects.filter(settlement_halted=True):
                messages.error(
                    request,
                    f"Settlement is HALTED on {network}: {network.settlement_halt_reason}",
                )
            quarantined = Trade.objects.filter(settlement_status=SettlementStatus.FAILED).count()
            if quarantined:
                messages.warning(
                    request,
                    f"{quarantined} trade(s) quarantined: the contract refused them. Retry "
                    "once the cause is fixed, or reverse them (their ledger legs are undone).",
                )
        return super().changelist_view(request, extra_context)

    @admin.action(
        description="Retry settlement of FAILED trades (sent again once resumed)",
        permissions=["retry"],
    )
    def retry_settlement(self, request, queryset):
        failed = queryset.filter(settlement_status=SettlementStatus.FAILED)
        count = sum(trade_settlement_retry(trade_id=trade.id) for trade in failed)
        self.message_user(request, f"{count} trade(s) queued for settlement again.")

    @admin.action(
        description="Reverse quarantined (FAILED) trades: undo their ledger legs",
        permissions=["retry"],
    )
    def reverse_trades(self, request, queryset):
        reversed_count = 0
        for trade in queryset.filter(settlement_status=SettlementStatus.FAILED).order_by("-id"):
            try:
                trade_reverse(trade_id=trade.id)
            except ReversalRefused as refusal:
                self.message_user(request, str(refusal), level=messages.ERROR)
            else:
                reversed_count += 1
        self.message_user(request, f"{reversed_count} trade(s) reversed.")


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    """Deposits and withdrawals: the workers move them, the ledger records them.
    A withdrawal stuck in PENDING or PROCESSING shows why in `error`."""

    list_display = (
        "id",
        "kind",
        "account_short",
        "token",
        "amount_units",
        "fee_units",
        "status",
        "transaction_short",
        "block_number",
        "error_short",
        "created_at",
    )
    list_filter = ("kind", "status", "network", "token")
    search_fields = ("=id",)
    exact_search_fields = ("account", "transaction_hash", "hash")
    list_select_related = ("network", "token")
    exclude = ("raw_transaction",)
    actions = ["retry_withdrawal"]

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("exchange.change_transfer")

    @admin.display(description="account", ordering="account")
    def account_short(self, obj: Transfer):
        return short_hex(obj.account)

    @admin.display(description="transaction")
    def transaction_short(self, obj: Transfer):
        return short_hex(obj.transaction_hash)

    @admin.display(description="error")
    def error_short(self, obj: Transfer) -> str:
        return obj.error if len(obj.error) <= 60 else obj.error[:59] + "…"

    @admin.display(description="amount", ordering="amount")
    def amount_units(self, obj: Transfer):
        return amount_html(obj.amount, obj.token)

    @admin.display(description="fee")
    def fee_units(self, obj: Transfer):
        return amount_html(obj.fee, obj.token)

    @admin.action(
        description="Retry withdrawal (FAILED: hold again and queue; PENDING: queue)",
        permissions=["retry"],
    )
    def retry_withdrawal(self, request, queryset):
        operator = request.user.get_username()
        for transfer in queryset.filter(
            kind=TransferKind.WITHDRAWAL,
            status__in=[TransferStatus.FAILED, TransferStatus.PENDING],
        ):
            try:
                outcome = withdrawal_retry(withdrawal_id=transfer.id, operator=operator)
            except WithdrawalRetryRefused as refused:
                messages.error(request, f"Withdrawal {transfer.id}: {refused}")
            else:
                messages.success(request, f"Withdrawal {transfer.id}: {outcome}")
