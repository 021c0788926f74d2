from django.db import models

UINT256_MAX = 2**256 - 1


class AmountField(models.DecimalField):
    """A base-unit integer amount up to 2^256-1, stored as NUMERIC(78, 0)."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 78
        kwargs["decimal_places"] = 0
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_digits"], kwargs["decimal_places"]
        return name, path, args, kwargs


class AddressField(models.CharField):
    """A 0x-prefixed Ethereum address, always stored lower-case."""

    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = 42
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_length"]
        return name, path, args, kwargs

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value.lower() if isinstance(value, str) else value


class HashField(models.CharField):
    """A 0x-prefixed 32-byte hash, lower-case."""

    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = 66
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_length"]
        return name, path, args, kwargs
