from django.urls import path

from benchmarks.baseline import views

urlpatterns = [
    path("tiny", views.TinyView.as_view()),
    path("recover", views.RecoverView.as_view()),
    path("row/<int:pk>", views.RowView.as_view()),
]
