"""WHAT: `ASGIHandler`, Django's ASGI handler, except that requests for views marked
`request_thread = False` are served without a per-request `ThreadSensitiveContext`.
WHY: Django wraps every request in a ThreadSensitiveContext, so the first `sync_to_async` of the request
     (its own request_started signal receivers, at the least) creates a new thread and the end of the
     request joins it. For the LLM gateway's async views, whose only sync work is those signal receivers,
     that thread is pure cost: about 0.45 ms of CPU per request measured in-process, more under
     concurrency (bench/relay.py), where a stream's whole budget is 5 ms.
HOW: the path is resolved first (the URL resolver's result is cached per path, bounded); a view that
     opts out runs in the handler's shared context, so its few `sync_to_async` calls go to asgiref's
     one process-wide sync thread instead of a new one. Every other view (the admin, sync views, async
     views that do real sync work such as ORM calls) keeps Django's behaviour exactly.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.urls import Resolver404, get_resolver

__all__ = ["ASGIHandler"]


@lru_cache(maxsize=4096)
def _needs_request_thread(path_info: str) -> bool:
    try:
        match = get_resolver().resolve(path_info)
    except Resolver404:
        return True
    return getattr(match.func, "request_thread", True)


class ASGIHandler(DjangoASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        root_path = scope.get("root_path", "")
        path = scope["path"]
        path_info = path[len(root_path):] if root_path and path.startswith(root_path) else path
        if _needs_request_thread(path_info or "/"):
            async with ThreadSensitiveContext():
                await self.handle(scope, receive, send)
        else:
            await self.handle(scope, receive, send)
