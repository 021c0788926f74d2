"""SQLite with exact DecimalFields: Django's backend, but decimals are stored as text.

ENGINE "relayer.sqlite_exact" (settings.py selects it for sqlite:// URLs). PostgreSQL
is untouched: its NUMERIC is exact already. Here (see encoding.py for the format):

- every DecimalField column is declared "decimal_text" (TEXT affinity), so SQLite keeps
  the fixed-width text instead of turning big numbers into floats;
- values are written encoded and read back as exact Decimals;
- expressions are not CAST to NUMERIC (Django does that for SQLite), so MIN/MAX,
  CASE (bulk_update), COALESCE and comparisons stay on the exact text (compiler.py);
- Sum() over a DecimalField runs DECIMAL_SUM, an exact aggregate written in Python;
- SQL arithmetic (+ - * / on decimals, Avg, StdDev, Variance) would go through floats
  and is refused (NotSupportedError): compute in Python with ints instead.

The migrations are the same for both backends: a column's type is the backend's.
"""

from decimal import Decimal

from django.core.exceptions import FieldError
from django.db import NotSupportedError
from django.db.backends.sqlite3 import base, operations
from django.db.models import Avg, DecimalField, StdDev, Variance
from django.db.models.expressions import CombinedExpression

from exchange.streams.outbox import OutboxConnection
from relayer.sqlite_exact.encoding import (
    EXACT,
    decimal_places_of,
    decode,
    encode,
    integer_digits_of,
)

REFUSED = (
    "{what} on a DecimalField is not exact on SQLite (it computes in floating point); "
    "compute in Python with ints (or Sum(), which is exact there)"
)


def _is_decimal(expression) -> bool:
    try:
        return isinstance(expression.output_field, DecimalField)
    except (AttributeError, FieldError):  # no output field: not a decimal
        return False


class DatabaseOperations(operations.DatabaseOperations):
    compiler_module = "relayer.sqlite_exact.compiler"

    def adapt_decimalfield_value(self, value, max_digits=None, decimal_places=None):
        if value is None or hasattr(value, "as_sql"):
            return value
        return encode(value, max_digits, decimal_places)

    def get_decimalfield_converter(self, expression):
        numeric = super().get_decimalfield_converter(expression)

        def converter(value, expression, connection):
            if isinstance(value, str):
                return decode(value)
            # A number: a column written before this backend (NUMERIC) or an expression.
            return numeric(value, expression, connection)

        return converter

    def check_expression_support(self, expression):
        super().check_expression_support(expression)
        if isinstance(expression, CombinedExpression) and any(
            _is_decimal(side) for side in (expression.lhs, expression.rhs)
        ):
            raise NotSupportedError(REFUSED.format(what=f"'{expression.connector}'"))
        if isinstance(expression, (Avg, StdDev, Variance)) and any(
            _is_decimal(source) for source in expression.get_source_expressions()
        ):
            raise NotSupportedError(REFUSED.format(what=expression.name))


class DecimalSum:
    """SUM for encoded decimals: exact, and encoded like its inputs (NULL for no rows)."""

    def __init__(self):
        self.total = None
        self.integer_digits = 1
        self.decimal_places = 0

    def step(self, value):
        if value is None:
            return
        if isinstance(value, str):
            self.integer_digits = max(self.integer_digits, integer_digits_of(value))
            self.decimal_places = max(self.decimal_places, decimal_places_of(value))
            value = decode(value)
        else:
            value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        self.total = value if self.total is None else EXACT.add(self.total, value)

    def finalize(self):
        if self.total is None:
            return None
        needed = len(str(abs(int(self.total)))) + 1
        digits = max(self.integer_digits, needed) + self.decimal_places
        return encode(self.total, digits, self.decimal_places)


class DatabaseWrapper(OutboxConnection, base.DatabaseWrapper):
    data_types = {**base.DatabaseWrapper.data_types, "DecimalField": "decimal_text"}
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        conn.create_aggregate("DECIMAL_SUM", 1, DecimalSum)
        return conn
