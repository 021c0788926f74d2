"""Django's SQL compilers, with decimals kept exact on SQLite (see base.py).

Django wraps every expression whose output is a DecimalField in CAST(... AS NUMERIC)
on SQLite, which turns the exact text of a big number into a float; here the text is
left alone, and Sum() of decimals runs the exact DECIMAL_SUM aggregate.
"""

from django.db.models import Sum
from django.db.models.expressions import CombinedExpression, SQLiteNumericMixin
from django.db.models.sql import compiler

from relayer.sqlite_exact.base import _is_decimal


class ExactDecimalMixin:
    def compile(self, node):
        if isinstance(node, CombinedExpression):
            # Django checks other expressions itself, not these (arithmetic).
            self.connection.ops.check_expression_support(node)
        if _is_decimal(node):
            if isinstance(node, Sum):
                return node.as_sql(self, self.connection, function="DECIMAL_SUM")
            if getattr(type(node), "as_sqlite", None) is SQLiteNumericMixin.as_sqlite:
                return node.as_sql(self, self.connection)
        return super().compile(node)


class SQLCompiler(ExactDecimalMixin, compiler.SQLCompiler):
    pass


class SQLInsertCompiler(ExactDecimalMixin, compiler.SQLInsertCompiler):
    pass


class SQLDeleteCompiler(ExactDecimalMixin, compiler.SQLDeleteCompiler):
    pass


class SQLUpdateCompiler(ExactDecimalMixin, compiler.SQLUpdateCompiler):
    pass


class SQLAggregateCompiler(ExactDecimalMixin, compiler.SQLAggregateCompiler):
    pass
