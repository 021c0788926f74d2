from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chain.metrics import metrics_export
from relayer.dashboard.views import dashboard
from relayer.healthz import healthz
from relayer.views import landing

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
