"""Signed orders: place, list, cancel, and the order book."""

from rest_framework import serializers, status
from rest_framework.response import Response

from exchange.api.base import ExchangeView, json_response, render_json
from exchange.api.errors import FieldCode, FieldError, NotFound
from exchange.api.fields import (
    AddressField,
    AmountField,
    Bytes32Field,
    SignatureField,
    UintField,
    parse,
    signature_type_field,
)
from exchange.api.markets import market_from_name
from exchange.api.networks import network_from_params
from exchange.api.pagination import page_request, paginated_response
from exchange.api.params import request_items
from exchange.market_snapshots import recent, snapshot
from exchange.models import Market
from exchange.paging import PageRequest
from exchange.records import Record
from exchange.selectors.orders import (
    ORDER_STATUSES,
    order_list,
    order_record,
    orderbook_counts,
    orderbook_read,
)
from exchange.services.cancel_all import orders_cancel_all
from exchange.services.orders import order_cancel, order_place, orders_cancel
from exchange.streams.snapshots import channel_sequence, consistent_read

# Expiries are stored as a signed 64-bit integer of milliseconds (year 292278994).
_MAX_EXPIRY_MS = 2**63 - 1


class CreateOrderInput(serializers.Serializer):
    account = AddressField()
    giveTokenAddress = AddressField()
    giveAmount = AmountField()
    takeTokenAddress = AddressField()
    takeAmount = AmountField()
    nonce = UintField()
    expiryTimestampInMilliseconds = UintField(maximum=_MAX_EXPIRY_MS)
    orderHash = Bytes32Field(required=False)
    signature = SignatureField()
    signatureType = signature_type_field()


class CreateOrderView(ExchangeView):
    writes = True

    def post(self, request):
        data = parse(CreateOrderInput, self.params())
        order = order_place(
            network=self.network(),
            account=data["account"],
            give_token_address=data["giveTokenAddress"],
            give_amount=data["giveAmount"],
            take_token_address=data["takeTokenAddress"],
            take_amount=data["takeAmount"],
            nonce=data["nonce"],
            expiry_ms=data["expiryTimestampInMilliseconds"],
            order_hash=data.get("orderHash"),
            signature=data["signature"],
            signature_type=data["signatureType"],
        )
        return Response(order_record(order), status=status.HTTP_201_CREATED)


class GetOrdersInput(serializers.Serializer):
    account = AddressField(required=False)
    orderHash = Bytes32Field(required=False)
    # The spec's records call it "hash"; accepted as a request field too.
    hash = Bytes32Field(required=False)
    market = serializers.CharField(max_length=40, required=False)
    status = serializers.ChoiceField(choices=ORDER_STATUSES, required=False)


class GetOrdersView(ExchangeView):
    def post(self, request):
        params = self.params()
        data = parse(GetOrdersInput, params)
        order_hash = data.get("orderHash") or data.get("hash")
        account = data.get("account")
        if account is None and order_hash is None:
            raise FieldError("account", FieldCode.REQUIRED, "Give an account or an orderHash")
        page = page_request(params)
        network = self.network()
        market = market_from_name(network, data["market"]) if "market" in data else None
        total, records = order_list(
            network=network,
            page=page,
            account=account,
            order_hash=order_hash,
            market=market,
            status=data.get("status"),
        )
        if order_hash is not None and total == 0:
            raise NotFound(f"No order with hash {order_hash}")
        return paginated_response(request, page, total, records)


class DeleteOrderInput(serializers.Serializer):
    orderHash = Bytes32Field()
    account = AddressField()
    nonce = UintField()
    signature = SignatureField()
    signatureType = signature_type_field()


class DeleteOrderView(ExchangeView):
    writes = True

    def post(self, request):
        if isinstance(request.data, list):
            return self._batch(request)
        data = parse(DeleteOrderInput, self.params())
        order_cancel(
            network=self.network(),
            order_hash=data["orderHash"],
            account=data["account"],
            nonce=data["nonce"],
            signature=data["signature"],
            signature_type=data["signatureType"],
        )
        return Response({"success": "0"})

    def _batch(self, request):
        """An array of signed cancels: all applied or none (issue #16)."""
        items, _, shared = request_items(request)
        network = network_from_params({**(items[0] if items else {}), **shared})
        rows, errors = [], {}
        for index, item in enumerate(items):
            serializer = DeleteOrderInput(data=item)
            if serializer.is_valid():
                rows.append(serializer.validated_data)
            for field, detail in serializer.errors.items():
                errors[f"[{index}].{field}"] = detail
        if errors:
            raise serializers.ValidationError(errors)
        orders = orders_cancel(
            network=network,
            cancels=[
                {
                    "order_hash": row["orderHash"],
                    "account": row["account"],
                    "nonce": row["nonce"],
                    "signature": row["signature"],
                    "signature_type": row["signatureType"],
                }
                for row in rows
            ],
        )
        return Response({"success": "0", "cancelled": [order.hash for order in orders]})


class CancelAllInput(serializers.Serializer):
    account = AddressField()
    market = serializers.CharField(max_length=40, required=False, allow_blank=True)
    nonce = UintField()
    signature = SignatureField()
    signatureType = signature_type_field()


class CancelAllView(ExchangeView):
    """POST /cancel_all_orders (issue #16): a signed cancel-all of the account's open
    orders, in one market or all (exchange/services/cancel_all.py)."""

    writes = True

    def post(self, request):
        data = parse(CancelAllInput, self.params())
        orders = orders_cancel_all(
            network=self.network(),
            account=data["account"],
            market_name=data.get("market") or None,
            nonce=data["nonce"],
            signature=data["signature"],
            signature_type=data["signatureType"],
        )
        return Response({"success": "0", "cancelled": [order.hash for order in orders]})


class OrderBookInput(serializers.Serializer):
    market = serializers.CharField(max_length=40)


def _book_read(market: Market, page: PageRequest) -> tuple[bytes, int | None]:
    # The totals may be as old as a snapshot may be: the snapshot ends with them.
    counts, counts_end = recent(f"book-counts:{market.id}", lambda: orderbook_counts(market))
    with consistent_read():
        # The book:<MARKET> stream's sequence the book shows (docs/streams.md).
        sequence = channel_sequence(market.network_id, f"book:{market.name}")
        book, earliest_expiry = orderbook_read(market=market, page=page, counts=counts)
    body: Record = {**book, "sequence": sequence}
    ends = [moment for moment in (earliest_expiry, counts_end) if moment is not None]
    return render_json(body), min(ends, default=None)


class OrderBookView(ExchangeView):
    def post(self, request):
        params = self.params()
        name = parse(OrderBookInput, params)["market"]
        page = page_request(params)
        market = market_from_name(self.network(), name)
        body = snapshot(
            market_id=market.id,
            network_id=market.network_id,
            key=f"book:{page.page}:{page.per_page}",
            read=lambda: _book_read(market, page),
        )
        return json_response(body)
