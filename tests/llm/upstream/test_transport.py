"""The provider client's HTTP plumbing (llm/upstream/transport.py): one pooled client per event loop, closed
when its loop shuts down, reused within a loop, an idle connection the server closed never handed out; and
the one mapping of httpx's errors to ours, whose phase decides whether a retry is safe."""

import asyncio

import httpx
import pytest
from asgiref.sync import async_to_sync

from llm.exceptions import ProviderResponseError, ProviderTimeoutError, ProviderUnavailableError, StreamInterruptedError
from llm.upstream.transport import LoopClients, translate_transport_errors, transport_error
from tests.support.llm import TEST_TIMEOUTS


async def test_one_client_per_loop_reused_within_it():
    clients = LoopClients(TEST_TIMEOUTS)
    first = await clients.get()
    assert await clients.get() is first and len(clients) == 1
    await clients.aclose()
    assert first.is_closed and len(clients) == 0
    assert await clients.get() is not first  # a closed client is replaced
    await clients.aclose()


def test_each_loops_client_is_closed_when_that_loop_shuts_down():
    clients = LoopClients(TEST_TIMEOUTS)
    seen = []

    async def use():
        seen.append(await clients.get())

    async_to_sync(use)()
    asyncio.run(use())
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert all(client.is_closed for client in seen) and len(clients) == 0


async def test_an_idle_connection_the_server_closed_is_not_handed_out():
    # A keep-alive server that hangs up shortly after each answer, as servers with a short keep-alive do.
    connections = 0

    async def serve(reader, writer):
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    clients = LoopClients(TEST_TIMEOUTS)
    async with server:
        http = await clients.get()
        assert (await http.get(url)).text == "ok"
        await asyncio.sleep(0.2)  # the server has closed the idle connection by now
        assert (await http.get(url)).text == "ok"  # on a new connection, not an error
        await clients.aclose()
    assert connections == 2


REQUEST = httpx.Request("POST", "http://upstream.test/v1/chat/completions")


@pytest.mark.parametrize(
    "exc,phase,expected,detail",
    [
        (httpx.ConnectTimeout("t", request=REQUEST), "response", ProviderTimeoutError, ("phase", "connect")),
        (httpx.PoolTimeout("t", request=REQUEST), "response", ProviderTimeoutError, ("phase", "pool")),
        (httpx.ReadTimeout("t", request=REQUEST), "body", ProviderTimeoutError, ("phase", "read")),
        (
            httpx.ConnectError("refused", request=REQUEST),
            "response",
            ProviderUnavailableError,
            ("reason", "connect_error"),
        ),
        (
            httpx.UnsupportedProtocol("x", request=REQUEST),
            "response",
            ProviderUnavailableError,
            ("reason", "invalid_request_setup"),
        ),
        (httpx.DecodingError("x", request=REQUEST), "body", ProviderResponseError, ("reason", "decoding_error")),
        (
            httpx.RemoteProtocolError("x", request=REQUEST),
            "body",
            StreamInterruptedError,
            ("reason", "connection_lost"),
        ),
        (
            httpx.ReadError("x", request=REQUEST),
            "response",
            ProviderUnavailableError,
            ("reason", "disconnected_before_response"),
        ),
    ],
)
def test_httpx_errors_map_to_ours_by_type_and_phase(exc, phase, expected, detail):
    error = transport_error(exc, provider="p", phase=phase, url="http://upstream.test/v1", partial_text="so far")
    assert type(error) is expected
    assert error.details[detail[0]] == detail[1] and error.details["provider"] == "p"


def test_a_connect_error_names_the_public_url_and_the_block_keeps_the_cause():
    with (
        pytest.raises(ProviderUnavailableError) as info,
        translate_transport_errors(provider="p", url="http://upstream.test/v1"),
    ):
        raise httpx.ConnectError("refused", request=REQUEST)
    assert "http://upstream.test/v1" in info.value.message
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_a_mid_body_loss_keeps_the_partial_text():
    error = transport_error(httpx.ReadError("x", request=REQUEST), provider="p", phase="body", partial_text="Hel")
    assert error.partial_text == "Hel"
