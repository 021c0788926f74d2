"""The operator admin, one module per area; importing them registers the model admins."""

from exchange.admin import accounts, money, operations, reference

__all__ = ["accounts", "money", "operations", "reference"]
