"""Records every request the origin was asked, as the Node tests' recording origin does."""

import threading

requests: list[dict] = []
_lock = threading.Lock()


def count(path: str, method: str = "GET") -> int:
    with _lock:
        return sum(1 for r in requests if r["path"] == path and r["method"] == method)


def last(path: str) -> dict:
    with _lock:
        return [r for r in requests if r["path"] == path][-1]


class RecordingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with _lock:
            requests.append(
                {
                    "path": request.path,
                    "method": request.method,
                    "headers": {k[5:].replace("_", "-").lower(): v for k, v in request.META.items() if k.startswith("HTTP_")},
                }
            )
        return self.get_response(request)
