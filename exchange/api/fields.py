"""Serializer fields for the protocol's wire types, each failing with the spec's field code.

Amounts and nonces are base-unit integers sent as decimal strings (PROTOCOL.md, "Units");
addresses and hashes are 0x-hex, accepted in any case and returned lower-case.
"""

import re
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

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


# The field classes whose run_validation is no more than to_internal_value when the value
# is present and not null (no validators, no blank or trimming rules of their own).
_PLAIN_FIELDS = (AddressField, UintField, Bytes32Field, SignatureField)


def _plan(serializer_class: type[serializers.Serializer]) -> tuple | None:
    """The serializer's fields as (name, field, default) when every one can be validated
    without DRF's per-request machinery (a copy of every field, bound, per request), or
    None: a field of another type, one with validators, a source or a null allowed, or
    a serializer with validation methods of its own."""
    if serializer_class.validate is not serializers.Serializer.validate:
        return None
    if hasattr(serializer_class, "Meta"):
        return None
    plan = []
    for name, field in serializer_class._declared_fields.items():
        if hasattr(serializer_class, f"validate_{name}"):
            return None
        exact_choice = type(field) is serializers.ChoiceField
        if not (isinstance(field, _PLAIN_FIELDS) or exact_choice):
            return None
        if field.read_only or field.allow_null or field.source not in (None, name):
            return None
        if field.validators:
            return None
        if exact_choice and getattr(field, "allow_blank", False):
            return None
        if field.default is not empty and callable(field.default):
            return None
        plan.append((name, field, field.required, field.default))
    return tuple(plan)


_PLANS: dict[type, tuple | None] = {}


def _parse_fast(plan: tuple, params: dict) -> dict:
    validated = {}
    for name, field, required, default in plan:
        value = params.get(name, empty)
        if value is empty:
            if required or default is empty:
                if required:
                    raise LookupError(name)
                continue
            validated[name] = default
            continue
        if value is None:
            raise ValueError(name)
        validated[name] = field.to_internal_value(value)
    return validated


def parse(serializer_class: type[serializers.Serializer], params: Any) -> dict:
    """Validated data of a serializer over the request's parameters, or the spec's 400.

    A serializer of the protocol's plain fields (above, and ChoiceField) is validated
    by calling each field's to_internal_value directly: what DRF's is_valid does with
    them, without its copy of every field per request. Whatever that finds wrong is
    validated again by the serializer itself, so the error (message, code, the fields
    it names) is exactly DRF's; tests/api/test_parse_fast.py holds both to the same
    results."""
    if type(params) is dict:
        try:
            plan = _PLANS[serializer_class]
        except KeyError:
            plan = _PLANS[serializer_class] = _plan(serializer_class)
        if plan is not None:
            try:
                return _parse_fast(plan, params)
            except Exception:
                pass  # the serializer below raises the error, in its own words
    serializer = serializer_class(data=params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
