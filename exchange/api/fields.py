"""Serializer fields for the protocol's wire types, each failing with the spec's field code.

Amounts and nonces are base-unit integers sent as decimal strings (PROTOCOL.md, "Units");
addresses and hashes are 0x-hex, accepted in any case and returned lower-case.
"""

import re

from rest_framework import serializers

from exchange.api.errors import FieldCode
from exchange.models.fields import UINT256_MAX
from exchange.protocol.typed_data import ETH_SIGN, SIGNATURE_TYPES
from exchange.validators import ADDRESS_RE

_INTEGER_RE = re.compile(r"^-?[0-9]+$")
_BYTES32_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")
# 2^256 has 78 digits; anything longer is out of range before it is parsed.
_MAX_DIGITS = 78


def _fail(reason: str, code: FieldCode):
    raise serializers.ValidationError(reason, code=int(code))  # type: ignore[arg-type]  # DRF keeps any code; its stubs say str


class AddressField(serializers.Field):
    def to_internal_value(self, data) -> str:
        if not isinstance(data, str) or not ADDRESS_RE.match(data):
            _fail(f"{data!r} is not an address (0x and 40 hex digits)", FieldCode.INVALID_ADDRESS)
        return data.lower()

    def to_representation(self, value: str) -> str:
        return value.lower()


class UintField(serializers.Field):
    """A uint256 as a decimal string (an integer JSON number is accepted too)."""

    def __init__(self, *, minimum: int = 0, maximum: int = UINT256_MAX, **kwargs):
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            value = data
        elif isinstance(data, str) and _INTEGER_RE.match(data):
            if len(data.lstrip("-").lstrip("0")) > _MAX_DIGITS:
                _fail(f"must be at most {self.maximum}", FieldCode.OUT_OF_RANGE)
            value = int(data)
        else:
            _fail(
                f"{data!r} is not an integer in base units as a decimal string",
                FieldCode.INCORRECT_FORMAT,
            )
        if value < self.minimum:
            _fail(f"must be at least {self.minimum}, got {value}", FieldCode.OUT_OF_RANGE)
        if value > self.maximum:
            _fail(f"must be at most {self.maximum}, got {value}", FieldCode.OUT_OF_RANGE)
        return value

    def to_representation(self, value) -> str:
        return str(int(value))


class AmountField(UintField):
    """A positive uint256: 0 is out of range."""

    def __init__(self, **kwargs):
        super().__init__(minimum=1, **kwargs)


class Bytes32Field(serializers.Field):
    def to_internal_value(self, data) -> str:
        if not isinstance(data, str) or not _BYTES32_RE.match(data):
            _fail(
                f"{data!r} is not a 32-byte hash (0x and 64 hex digits)", FieldCode.INCORRECT_FORMAT
            )
        return data.lower()

    def to_representation(self, value: str) -> str:
        return value


class SignatureField(serializers.Field):
    def to_internal_value(self, data) -> str:
        if not isinstance(data, str) or not _SIGNATURE_RE.match(data):
            _fail(
                "the signature must be 65 bytes r||s||v as 0x-hex (132 characters)",
                FieldCode.INCORRECT_FORMAT,
            )
        return data.lower()

    def to_representation(self, value: str) -> str:
        return value


def signature_type_field() -> serializers.ChoiceField:
    """signatureType: what `signature` signs, the spec's hash (eth_sign, the default) or the
    EIP-712 typed data (eip712; docs/signing-eip712.md). Another value is 1006."""
    return serializers.ChoiceField(choices=SIGNATURE_TYPES, default=ETH_SIGN)


def parse(serializer_class: type[serializers.Serializer], params: dict) -> dict:
    """Validated data of a serializer over the request's parameters, or the spec's 400."""
    serializer = serializer_class(data=params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
