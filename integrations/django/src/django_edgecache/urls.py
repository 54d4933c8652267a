"""``path("edgecache/", include("django_edgecache.urls"))``."""

from django.urls import path

from . import views

app_name = "django_edgecache"
urlpatterns = [path("csrf/", views.csrf_token, name="csrf")]
