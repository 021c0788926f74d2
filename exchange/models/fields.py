from collections.abc import Sequence
from typing import Any

from django.db import models

from exchange.protocol.typed_data import EIP712, ETH_SIGN

UINT256_MAX = 2**256 - 1


class AmountField(models.DecimalField):
    """A base-unit integer amount up to 2^256-1, stored as NUMERIC(78, 0)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_digits"] = 78
        kwargs["decimal_places"] = 0
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_digits"], kwargs["decimal_places"]
        return name, path, args, kwargs


class AddressField(models.CharField):
    """A 0x-prefixed Ethereum address, always stored lower-case."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_length"] = 42
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_length"]
        return name, path, args, kwargs

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value.lower() if isinstance(value, str) else value


class HashField(models.CharField):
    """A 0x-prefixed 32-byte hash, lower-case."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_length"] = 66
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_length"]
        return name, path, args, kwargs


class SignatureType(models.TextChoices):
    """How a user signature signs (exchange/protocol/typed_data.py): the spec's eth_sign or EIP-712.
    The settler and the withdrawal dispatcher pass it to the contract."""

    ETH_SIGN = ETH_SIGN, "eth_sign (PROTOCOL.md)"
    EIP712 = EIP712, "EIP-712 typed data"


def signature_type_field() -> models.CharField:
    # db_default too: the bulk SQL writers (deposit records, the benchmark seed) omit it.
    return models.CharField(
        max_length=8,
        choices=SignatureType,
        default=SignatureType.ETH_SIGN,
        db_default=SignatureType.ETH_SIGN,
    )
