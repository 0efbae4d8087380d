"""WHAT: `ASGIHandler`, Django's ASGI handler, except that requests for views marked
`request_thread = False` are served without a per-request `ThreadSensitiveContext` and without thread
hops for the request signals.
WHY: Django wraps every request in a ThreadSensitiveContext, so the first `sync_to_async` of the request
     creates a new thread and the end of the request joins it; and it sends `request_started` and (by
     closing the response) `request_finished` through `sync_to_async`, two hops to a sync thread per
     request, the first one before the view runs. For the LLM gateway's async views that is pure cost:
     the thread about 0.45 ms of CPU per request, each hop about 60-90 us of CPU and, on a busy machine,
     up to a millisecond of time to first token (bench/relay.py), where a stream's budget is 5 ms.
     The receivers Django connects there (`reset_queries` and `close_old_connections`, `close_caches`,
     `reset_urlconf`) act on the calling thread's database connections and the calling context's
     caches: on the event loop thread there are no connections (sync ORM calls raise there), so they
     are cheap and correct inline. The one sync thread these views' async ORM reads run in (asgiref's
     shared one) looks after its own connection instead (llm/selectors.py).
HOW: the path is resolved first (the URL resolver's result is cached per path, bounded). A view that
     opts out is served by `_handle_inline`: Django's `ASGIHandler.handle` (Django 5.2, pinned) with the
     signals sent and the response closed on the event loop; its remaining `sync_to_async` calls go to
     asgiref's one process-wide sync thread. Such views' request-signal receivers must be sync and quick
     (Django's are); an async receiver would raise there. Every other view (the admin, sync views,
     async views that do real sync work such as ORM calls) keeps Django's behaviour exactly.
     tests/marketplace/test_asgi_handler.py fails when Django's `handle` changes, to port the change.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.core.handlers.asgi import get_script_prefix
from django.urls import Resolver404, get_resolver, set_script_prefix

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
        path_info = path[len(root_path) :] if root_path and path.startswith(root_path) else path
        if _needs_request_thread(path_info or "/"):
            async with ThreadSensitiveContext():
                await self.handle(scope, receive, send)
        else:
            await self._handle_inline(scope, receive, send)

    async def _handle_inline(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """`DjangoASGIHandler.handle`, with the request signals and the response's close on the event loop.
        The four changed lines are marked "inline"; the rest is Django's code as it is."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)  # inline
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()  # inline
            return

        async def process_request(request: Any, send: Any) -> Any:
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client disconnected during send_response
            return response

        # Catch a disconnect while getting the response: listen_for_disconnect() first, so that its
        # (expected) errors cannot prevent process_request() from being cancelled.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass  # the client disconnected
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()  # views may handle the cancellation
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            signals.request_finished.send(sender=self.__class__)  # inline
        else:
            response.close()  # inline (sends request_finished)
        body_file.close()
