from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import relayer.metrics  # noqa: F401 (registers the standby's gauges)
from chain.metrics import metrics_export
from relayer.dashboard.views import dashboard
from relayer.healthz import healthz
from relayer.views import landing

# Django's own 500 page, outside DRF (middleware): JSON, and a 503 when the database is gone.
handler500 = "exchange.api.errors.server_error"

urlpatterns = [
    path("", landing, name="landing"),
    path("admin/dashboard/", dashboard, name="operator-dashboard"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_export, name="prometheus-django-metrics"),
    path("", include("django_prometheus.urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("exchange.api.urls")),
]
