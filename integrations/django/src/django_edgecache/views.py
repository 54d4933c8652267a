"""The per-visitor CSRF token, for pages cached for everyone (``{% edge_csrf_token %}``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.http import require_GET

from .decorators import never_edge_cache


@require_GET
@never_edge_cache
def csrf_token(request: HttpRequest) -> JsonResponse:
    """This visitor's CSRF token (and the ``csrftoken`` cookie, set by CsrfViewMiddleware).
    Never stored anywhere: ``Cache-Control: private, no-store``."""
    response = JsonResponse({"token": get_token(request)})
    response["Cache-Control"] = "private, no-store"
    return response
