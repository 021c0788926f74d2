"""The OpenAPI description of the endpoints whose views carry no @extend_schema: orders,
balances and transfers.

drf-spectacular view extensions attach it without touching the views (each replacement
subclass only adds the schema and calls the view itself). A view annotated with
@extend_schema (README, "Documenting an endpoint") needs no entry here. The fuzz test
(tests/reliability/test_fuzz_api.py) checks real responses against what is written here,
so a change of a response's shape must change its serializer below too.
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from exchange.api.schema import NETWORK_ID, PAGE_PARAMETERS, page_envelope

_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
_BYTES32 = r"^0x[0-9a-fA-F]{64}$"
_SIGNATURE = r"^0x[0-9a-fA-F]{130}$"
_UINT = r"^[0-9]{1,78}$"


def _address(**kwargs) -> serializers.RegexField:
    return serializers.RegexField(_ADDRESS, help_text="0x and 40 hex digits, any case", **kwargs)


def _bytes32(**kwargs) -> serializers.RegexField:
    return serializers.RegexField(_BYTES32, **kwargs)


def _uint(help_text: str = "A base-unit integer as a decimal string", **kwargs):
    return serializers.RegexField(_UINT, help_text=help_text, **kwargs)


def _signature() -> serializers.RegexField:
    return serializers.RegexField(
        _SIGNATURE,
        help_text="web3.eth.sign (or EIP-712, see signatureType): 65 bytes r||s||v, 0x-hex",
    )


def _signature_type() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=["eth_sign", "eip712"],
        required=False,
        help_text="What the signature signs: the protocol hash with eth_sign (the default) "
        "or the EIP-712 typed data (docs/signing-eip712.md)",
    )


# --- requests -------------------------------------------------------------------------


class CreateOrderRequest(serializers.Serializer):
    account = _address()
    giveTokenAddress = _address()
    giveAmount = _uint()
    takeTokenAddress = _address()
    takeAmount = _uint()
    nonce = _uint("The client's Unix time in milliseconds")
    expiryTimestampInMilliseconds = _uint("Unix milliseconds")
    orderHash = _bytes32(required=False, help_text="Checked against the server's if given")
    signature = _signature()
    signatureType = _signature_type()


class GetOrdersRequest(serializers.Serializer):
    account = _address(required=False)
    orderHash = _bytes32(required=False)
    market = serializers.CharField(required=False, help_text="BASE_QUOTE: that market only")
    status = serializers.ChoiceField(
        choices=["OPEN", "FILLED", "CANCELLED", "EXPIRED", "ALL"],
        required=False,
        help_text="Default: OPEN for an account, any state for an orderHash",
    )


class DeleteOrderRequest(serializers.Serializer):
    orderHash = _bytes32()
    account = _address()
    nonce = _uint("The client's Unix time in milliseconds")
    signature = _signature()
    signatureType = _signature_type()


class CancelAllRequest(serializers.Serializer):
    account = _address()
    market = serializers.CharField(
        required=False, help_text="BASE_QUOTE: that market only; absent: every market"
    )
    nonce = _uint("Used once per account: a replay is refused")
    signature = _signature()
    signatureType = _signature_type()


class CancelAllResponse(serializers.Serializer):
    success = serializers.CharField(help_text='"0"')
    cancelled = serializers.ListField(
        child=serializers.CharField(), help_text="The orderHash of every order cancelled"
    )


class MarketRequest(serializers.Serializer):
    market = serializers.CharField(max_length=40, help_text="BASE_QUOTE, e.g. ETH_SAN")


class GetTransfersRequest(serializers.Serializer):
    account = _address()
    startingTimestampInMilliseconds = _uint("Unix milliseconds", required=False)
    endingTimestampInMilliseconds = _uint("Unix milliseconds", required=False)


class CreateTransferRequest(serializers.Serializer):
    account = _address()
    amount = _uint()
    tokenAddress = _address()
    nonce = _uint("The client's Unix time in milliseconds")
    signature = _signature()
    signatureType = _signature_type()


# --- responses ------------------------------------------------------------------------


class _OrderFields(serializers.Serializer):
    account = serializers.CharField()
    giveTokenAddress = serializers.CharField()
    giveAmount = serializers.CharField()
    takeTokenAddress = serializers.CharField()
    takeAmount = serializers.CharField()
    filled = serializers.CharField()
    nonce = serializers.CharField()
    expiryTimestampInMilliseconds = serializers.CharField()
    created_at = serializers.CharField(help_text="Unix seconds")


class OrderRecord(_OrderFields):
    orderHash = serializers.CharField()


class OrderListRecord(_OrderFields):
    hash = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["OPEN", "FILLED", "CANCELLED", "EXPIRED"], help_text="Beside the spec's fields"
    )
    market = serializers.CharField(help_text="BASE_QUOTE")
    closeReason = serializers.CharField(
        allow_null=True,
        help_text="Why the exchange closed it: REMAINDER_UNDER_MINIMUM, CANCEL_ALL, "
        "ACCOUNT_FROZEN; null otherwise",
    )


OrderPage = page_envelope("OrderPage", OrderListRecord)
BookSidePage = page_envelope("BookSidePage", OrderRecord)


class OrderBook(serializers.Serializer):
    bids = BookSidePage()
    asks = BookSidePage()
    sequence = serializers.IntegerField(
        help_text="The book:<MARKET> stream's sequence this book shows (docs/streams.md): "
        "apply the stream's events after it"
    )


class Success(serializers.Serializer):
    success = serializers.CharField(help_text='Always "0"')


class BalanceRecord(serializers.Serializer):
    token = serializers.CharField()
    balance = serializers.CharField(help_text="The account's total on the exchange")
    holdBalance = serializers.CharField(help_text="Held by open orders and pending withdrawals")


class TransferRecord(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["deposit", "withdrawal"])
    token = serializers.CharField()
    amount = serializers.CharField()
    status = serializers.ChoiceField(choices=["PENDING", "PROCESSING", "COMPLETE", "FAILED"])
    transactionHash = serializers.CharField(allow_null=True)
    blockHash = serializers.CharField(allow_null=True)
    blockNumber = serializers.IntegerField(allow_null=True)
    created_at = serializers.CharField(help_text="Unix seconds")


BalancePage = page_envelope("BalancePage", BalanceRecord)

# --- the views ------------------------------------------------------------------------

_PAGED = [NETWORK_ID, *PAGE_PARAMETERS]
_NOT_FOUND = OpenApiResponse(description="No such order")
_DISABLED = "Order submission disabled (code 102) is a 400 too"


def _documented(target: str, method: str, **schema) -> type[OpenApiViewExtension]:
    """A view extension that gives `target`'s `method` handler the schema `schema`."""

    class Documented(OpenApiViewExtension):
        target_class = target

        def view_replacement(self):
            view_class = self.target_class
            handler = getattr(view_class, method)
            return type(
                view_class.__name__,
                (view_class,),
                {method: extend_schema(**schema)(handler), "__doc__": view_class.__doc__},
            )

    Documented.__name__ = f"{target.rsplit('.', 1)[-1]}Schema"
    return Documented


_VIEWS = "exchange.api.views"
DOCUMENTED = [
    _documented(
        f"{_VIEWS}.orders.CreateOrderView",
        "post",
        operation_id="create_orders",
        summary="Place a signed order (holds its giveAmount)",
        description=_DISABLED,
        tags=["orders"],
        parameters=[NETWORK_ID],
        request=CreateOrderRequest,
        responses={201: OrderRecord},
    ),
    _documented(
        f"{_VIEWS}.orders.GetOrdersView",
        "post",
        operation_id="get_orders",
        summary="Orders of an account (open by default), or one order by hash in any state",
        tags=["orders"],
        parameters=_PAGED,
        request=GetOrdersRequest,
        responses={200: OrderPage, 404: _NOT_FOUND},
    ),
    _documented(
        f"{_VIEWS}.orders.DeleteOrderView",
        "post",
        operation_id="delete_orders",
        summary="Cancel an order with the owner's signature over cancelHash",
        tags=["orders"],
        parameters=[NETWORK_ID],
        request=DeleteOrderRequest,
        responses={200: Success, 404: _NOT_FOUND},
    ),
    _documented(
        f"{_VIEWS}.orders.CancelAllView",
        "post",
        operation_id="cancel_all_orders",
        summary="Cancel every open order of an account (in one market) with its signature "
        "over cancelAllHash (docs/signing.md)",
        tags=["orders"],
        parameters=[NETWORK_ID],
        request=CancelAllRequest,
        responses={200: CancelAllResponse},
    ),
    _documented(
        f"{_VIEWS}.orders.OrderBookView",
        "post",
        operation_id="get_orderbook",
        summary="A market's bids and asks in price order (each side paginated)",
        tags=["orders"],
        parameters=_PAGED,
        request=MarketRequest,
        responses={200: OrderBook},
    ),
    _documented(
        f"{_VIEWS}.balances.AccountBalancesView",
        "get",
        operation_id="get_account_balances",
        summary="An account's balances and holds (paginated)",
        tags=["balances"],
        parameters=[
            OpenApiParameter("address", str, OpenApiParameter.PATH, pattern=_ADDRESS),
            *_PAGED,
        ],
        responses={200: BalancePage},
    ),
    _documented(
        f"{_VIEWS}.balances.BalancesView",
        "get",
        operation_id="get_balances",
        summary="GET /accounts/{address} with the account in the query string",
        tags=["balances"],
        parameters=[OpenApiParameter("account", str, required=True, pattern=_ADDRESS), *_PAGED],
        responses={200: BalancePage},
    ),
    _documented(
        f"{_VIEWS}.transfers.GetTransfersView",
        "post",
        operation_id="get_transfers",
        summary="An account's deposits and withdrawals in a time range (paginated)",
        tags=["transfers"],
        parameters=_PAGED,
        request=GetTransfersRequest,
        responses={200: page_envelope("TransferPage", TransferRecord)},
    ),
    _documented(
        f"{_VIEWS}.transfers.CreateTransfersView",
        "post",
        operation_id="create_transfers",
        summary="Request a signed withdrawal (holds the amount)",
        tags=["transfers"],
        parameters=[NETWORK_ID],
        request=CreateTransferRequest,
        responses={200: Success},
    ),
]
