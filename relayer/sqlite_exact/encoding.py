"""Decimals as fixed-width text that SQLite compares, orders and stores exactly.

SQLite gives a "decimal" column NUMERIC affinity: an integer above 2^63, or any value
with more than about 15 significant digits, is stored as a float. Amounts go up to
2^256-1 and prices have 36 places, so on SQLite every DecimalField is a TEXT column
holding the value at its field's scale, zero-padded to its field's width:

    DecimalField(78, 0):  10**24 + 1  -> "000...0001000000000000000000000001" (78 digits)
    DecimalField(78, 36): 1.5         -> "000...0001.500000000000000000000000000000000000"

Equal values have one spelling and the digits line up, so SQLite's text comparison
(BINARY) is numeric comparison: filters, ranges, ORDER BY, MIN/MAX, unique and CHECK
constraints and F() comparisons work on the text as they would on numbers. A negative
value is "-" followed by 10^I + value (I: the integer digits), its ten's complement at
the same width: "-" sorts before every digit, and among negatives the complement grows
with the value. Only ledger deltas are ever negative.
"""

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from django.db import DataError

# Wide enough that no operation on a field's values (up to 100 digits) rounds.
EXACT = Context(prec=1000, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


def encode(value, max_digits: int | None = None, decimal_places: int | None = None) -> str:
    """The fixed-width text of a number for a DecimalField(max_digits, decimal_places).

    Rounds to decimal_places half away from zero, as PostgreSQL's NUMERIC does, and
    refuses (DataError, as PostgreSQL) a value with more integer digits than the field.
    Without a field's digits (a bare Value(Decimal)), the narrowest width that fits.
    """
    if isinstance(value, float):
        value = Decimal(repr(value))
    value = Decimal(value)
    if not value.is_finite():
        raise DataError(f"not a finite number: {value}")
    if decimal_places is None:
        decimal_places = max(0, -value.as_tuple().exponent)
    scaled = int(
        value.scaleb(decimal_places, context=EXACT).to_integral_value(
            rounding=ROUND_HALF_UP, context=EXACT
        )
    )
    if max_digits is None:
        max_digits = max(len(str(abs(scaled))), decimal_places) + 1
    limit = 10**max_digits
    if abs(scaled) >= limit:
        raise DataError(
            f"numeric field overflow: {value} does not fit "
            f"{max_digits - decimal_places} integer digits"
        )
    sign = "-" if scaled < 0 else ""
    digits = str(limit + scaled if scaled < 0 else scaled).zfill(max_digits)
    if decimal_places:
        digits = f"{digits[:-decimal_places]}.{digits[-decimal_places:]}"
    return sign + digits


def decode(text: str) -> Decimal:
    """The number encode() wrote (its width is read from the text itself)."""
    if not text.startswith("-"):
        return Decimal(text)
    body = text[1:]
    integer_digits = body.find(".") if "." in body else len(body)
    return EXACT.subtract(Decimal(body), Decimal(f"1E{integer_digits}"))


def decimal_places_of(text: str) -> int:
    return len(text) - text.index(".") - 1 if "." in text else 0


def integer_digits_of(text: str) -> int:
    body = text.removeprefix("-")
    return body.index(".") if "." in body else len(body)
