"""Deposits and withdrawals: POST /get_transfers, POST /create_transfers."""

import time

from rest_framework import serializers
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import FieldCode
from exchange.api.fields import (
    AddressField,
    AmountField,
    SignatureField,
    UintField,
    parse,
    signature_type_field,
)
from exchange.api.pagination import page_request, paginated_response
from exchange.selectors.transfers import transfer_list
from exchange.services.withdrawals import withdrawal_request

# Unix milliseconds up to the end of year 9999 (what a timestamp column holds).
MAX_TIMESTAMP_MS = 253402300799999


class CreateTransferSerializer(serializers.Serializer):
    account = AddressField()
    amount = AmountField()
    tokenAddress = AddressField()
    nonce = UintField()
    signature = SignatureField()
    signatureType = signature_type_field()


class GetTransfersSerializer(serializers.Serializer):
    account = AddressField()
    startingTimestampInMilliseconds = UintField(maximum=MAX_TIMESTAMP_MS, default=0)
    endingTimestampInMilliseconds = UintField(maximum=MAX_TIMESTAMP_MS, required=False)

    def validate(self, attrs):
        attrs.setdefault("endingTimestampInMilliseconds", int(time.time() * 1000))
        if attrs["startingTimestampInMilliseconds"] > attrs["endingTimestampInMilliseconds"]:
            raise serializers.ValidationError(
                {
                    "startingTimestampInMilliseconds": serializers.ErrorDetail(
                        "startingTimestampInMilliseconds is after endingTimestampInMilliseconds",
                        code=int(FieldCode.OUT_OF_RANGE),
                    )
                }
            )
        return attrs


class GetTransfersView(ExchangeView):
    def post(self, request):
        params = self.params()
        network = self.network()
        data = parse(GetTransfersSerializer, params)
        page = page_request(params)
        total, records = transfer_list(
            network=network,
            account=data["account"],
            start_ms=data["startingTimestampInMilliseconds"],
            end_ms=data["endingTimestampInMilliseconds"],
            page=page,
        )
        return paginated_response(request, page, total, records)


class CreateTransfersView(ExchangeView):
    writes = True

    def post(self, request):
        network = self.network()
        data = parse(CreateTransferSerializer, self.params())
        withdrawal_request(
            network=network,
            account=data["account"],
            token_address=data["tokenAddress"],
            amount=data["amount"],
            nonce=data["nonce"],
            signature=data["signature"],
            signature_type=data["signatureType"],
        )
        return Response({"success": "0"})
