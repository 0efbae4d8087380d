"""WHAT: `StaticFilesMiddleware`, WhiteNoise serving /static/ (the web pages' CSS and JS) in any deployment.
WHY: WhiteNoise's middleware is sync only: under ASGI every request would hop to a thread for it; this
     one passes every other path straight on, inline, as marketplace/middleware.py does for the rest.
HOW: a WhiteNoiseMiddleware subclass that is async capable; a path under STATIC_URL is looked up and
     served in a thread (it reads a file, whole), anything else awaits the next handler directly.
"""

from __future__ import annotations

import warnings
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

__all__ = ["StaticFilesMiddleware"]


class StaticFilesMiddleware(WhiteNoiseMiddleware):
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

    async def __acall__(self, request: Any) -> Any:
        if not request.path_info.startswith(self.static_prefix):
            return await self.get_response(request)
        static_file = await sync_to_async(self._static_file, thread_sensitive=False)(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(self._serve_buffered, thread_sensitive=False)(static_file, request)

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

    def _static_file(self, path: str) -> Any:
        return self.find_file(path) if self.autorefresh else self.files.get(path)
