"""Deposits and withdrawals: POST /get_transfers, POST /create_transfers."""

import re
import time

from rest_framework import serializers
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import FieldCode
from exchange.api.pagination import page_request, paginated_response
from exchange.models.fields import UINT256_MAX
from exchange.selectors.transfers import transfer_list
from exchange.services.withdrawals import withdrawal_request

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_INTEGER = re.compile(r"^[0-9]+$")
# Unix milliseconds fit a PostgreSQL timestamp only up to the year 294276.
MAX_TIMESTAMP_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


class AddressField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not _ADDRESS.match(value):
            raise serializers.ValidationError(
                f"{value} is not an address (0x and 40 hex digits)", code=int(FieldCode.INVALID_ADDRESS)
            )
        return value.lower()


class UintField(serializers.Field):
    """A base-10 integer given as a string (or a JSON integer), within [minimum, maximum]."""

    def __init__(self, *, minimum: int = 0, maximum: int = UINT256_MAX, **kwargs):
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def to_internal_value(self, data):
        text = str(data) if isinstance(data, int) and not isinstance(data, bool) else data
        if not isinstance(text, str) or not _INTEGER.match(text.strip()):
            raise serializers.ValidationError(
                f"{self.field_name} must be a non-negative integer in base 10",
                code=int(FieldCode.INCORRECT_FORMAT),
            )
        value = int(text.strip())
        if not self.minimum <= value <= self.maximum:
            raise serializers.ValidationError(
                f"{self.field_name} must be between {self.minimum} and {self.maximum}",
                code=int(FieldCode.OUT_OF_RANGE),
            )
        return value

    def to_representation(self, value):
        return str(value)


class CreateTransferSerializer(serializers.Serializer):
    account = AddressField()
    amount = UintField(minimum=1)
    tokenAddress = AddressField()
    nonce = UintField()
    signature = serializers.CharField(max_length=200)


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
        serializer = GetTransfersSerializer(data=params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
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
    def post(self, request):
        network = self.network()
        serializer = CreateTransferSerializer(data=self.params())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        withdrawal_request(
            network=network,
            account=data["account"],
            token_address=data["tokenAddress"],
            amount=data["amount"],
            nonce=data["nonce"],
            signature=data["signature"],
        )
        return Response({"success": "0"})
