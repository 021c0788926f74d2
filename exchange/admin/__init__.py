"""The operator admin, one module per area; importing them registers the model admins."""

from exchange.admin import money, operations, reference

__all__ = ["money", "operations", "reference"]
