import re

from django.core.exceptions import ValidationError

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ETHER_ADDRESS = "0x0000000000000000000000000000000000000000"


def validate_address(value: str) -> None:
    if not isinstance(value, str) or not ADDRESS_RE.match(value):
        raise ValidationError(
            "%(value)s is not an Ethereum address (0x followed by 40 hex digits).",
            params={"value": value},
            code="invalid_address",
        )


def validate_symbol(value: str) -> None:
    if "_" in value:
        raise ValidationError(
            "A symbol cannot contain '_': market names are BASE_QUOTE.", code="invalid_symbol"
        )
