"""The operator admin, one module per area; importing them registers the model admins."""

from django.contrib import admin

from exchange.admin import accounts, money, operations, reference

__all__ = ["accounts", "money", "operations", "reference"]

# The list pages need the width: at 1400 px the app sidebar and the filters left the
# lists about 800 px. The index page and the breadcrumbs still lead everywhere.
admin.site.enable_nav_sidebar = False
