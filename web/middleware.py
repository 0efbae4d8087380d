"""WHAT: `StaticFilesMiddleware`, WhiteNoise serving /static/ (the web pages' CSS and JS) in any deployment.
WHY: WhiteNoise's middleware is sync only: under ASGI every request would hop to a thread for it; this
     one passes every other path straight on, inline, as marketplace/middleware.py does for the rest.
HOW: WhiteNoise with marketplace.middleware.InlineHooksMixin: `process_request` serves a file under
     STATIC_URL (read whole, in a thread: it opens a file); any other path costs one prefix check.
"""

from __future__ import annotations

import warnings
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

from marketplace.middleware import InlineHooksMixin

__all__ = ["StaticFilesMiddleware"]


class StaticFilesMiddleware(InlineHooksMixin, WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # No STATIC_ROOT before `collectstatic`: the finders serve the files (WHITENOISE_USE_FINDERS).
            warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
            super().__init__(get_response, **kwargs)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        return super().__call__(request)

    def request_needs_thread(self, request: Any) -> bool:
        return request.path_info.startswith(self.static_prefix)

    def process_request(self, request: Any) -> HttpResponse | None:
        if not request.path_info.startswith(self.static_prefix):
            return None
        path = request.path_info
        static_file = self.find_file(path) if self.autorefresh else self.files.get(path)
        return None if static_file is None else self._serve_buffered(static_file, request)

    def _serve_buffered(self, static_file: Any, request: Any) -> HttpResponse:
        """The file as one body: these files are small, and Django would warn about (and buffer) a sync
        file iterator under ASGI anyway."""
        streamed = self.serve(static_file, request)
        body = b"".join(streamed.streaming_content) if request.method != "HEAD" else b""
        streamed.close()
        response = HttpResponse(body, status=streamed.status_code)
        for name, value in streamed.items():
            response[name] = value
        return response
