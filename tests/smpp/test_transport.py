"""The Trio transport on memory streams (virtual time) and once over real TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio.testing

from smpp.constants import CommandStatus
from smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSM,
    DeliverSMResp,
    SubmitSM,
    SubmitSMResp,
    Unbind,
)
from smpp.state import Role, SessionState
from smpp.transport import (
    BindError,
    Connection,
    ConnectionLost,
    InboundRequest,
    LinkOptions,
    RequestHandler,
    ResponseTimeout,
    connect,
    open_connection,
)

DEFAULTS = LinkOptions()


class Counter:
    def __init__(self) -> None:
        self.n = 0


def auto_mc(
    *, answer_submits: bool = True, password: str = "pw", delay_submits: float = 0.0
) -> tuple[Counter, RequestHandler]:
    """A tiny message centre handler: binds with password 'pw', answers submits."""
    submits = Counter()

    def handle(request: InboundRequest) -> None:
        pdu = request.pdu
        if isinstance(pdu, BindTransceiver):
            ok = pdu.password == password
            request.respond(
                BindTransceiverResp(system_id="sim"),
                0 if ok else CommandStatus.ESME_RBINDFAIL,
            )
        elif isinstance(pdu, SubmitSM):
            submits.n += 1
            if answer_submits:
                request.respond(SubmitSMResp(message_id=f"m{submits.n}"))
        elif isinstance(pdu, Unbind):
            request.respond()

    return submits, handle


@asynccontextmanager
async def linked(
    esme_options: LinkOptions = DEFAULTS,
    mc_options: LinkOptions = DEFAULTS,
    *,
    handler: RequestHandler | None = None,
) -> AsyncIterator[tuple[Connection, Connection]]:
    left, right = trio.testing.memory_stream_pair()
    async with (
        open_connection(left, Role.ESME, esme_options) as esme,
        open_connection(right, Role.MC, mc_options, handler=handler) as mc,
    ):
        yield esme, mc


async def test_bind_submit_and_unbind(autojump_clock: trio.testing.MockClock) -> None:
    submits, handler = auto_mc()
    async with linked(handler=handler) as (esme, _mc):
        resp = await esme.bind(BindTransceiver(system_id="ja", password="pw"))
        assert resp == BindTransceiverResp(system_id="sim")
        assert esme.session.state is SessionState.BOUND_TRX
        result = await esme.request(SubmitSM(destination_addr="31600000001", short_message=b"x"))
        assert result.response == SubmitSMResp(message_id="m1")
        await esme.unbind()
        assert esme.closed
    assert submits.n == 1


async def test_unbind_while_the_peer_is_unbinding_just_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    _, handler = auto_mc()
    async with linked(handler=handler) as (esme, mc):
        await esme.bind(BindTransceiver(system_id="ja", password="pw"))
        assert mc.session.is_bound()  # it answered the bind
        mc.send_nowait(Unbind())  # the message centre unbinds first ...
        request = await esme.requests.receive()
        assert isinstance(request.pdu, Unbind)
        assert esme.session.state is SessionState.UNBINDING
        await esme.unbind()  # ... and we stop before answering: no unbind of our own
        assert esme.closed


async def test_bind_refused(autojump_clock: trio.testing.MockClock) -> None:
    _, handler = auto_mc()
    async with linked(handler=handler) as (esme, _mc):
        with pytest.raises(BindError) as info:
            await esme.bind(BindTransceiver(password="nope"))
        assert info.value.status == CommandStatus.ESME_RBINDFAIL


async def test_window_makes_callers_wait_and_writes_coalesce(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """64 submits through a window of 8: never more than 8 outstanding, all answered."""
    held: list[InboundRequest] = []
    peak = Counter()

    def handle(request: InboundRequest) -> None:
        if isinstance(request.pdu, BindTransceiver):
            request.respond()
        else:
            held.append(request)
            peak.n = max(peak.n, len(held))

    async with linked(LinkOptions(window=8), handler=handle) as (esme, _mc):
        await esme.bind(BindTransceiver())
        done = Counter()

        async def submit() -> None:
            await esme.request(SubmitSM())
            done.n += 1

        async with trio.open_nursery() as nursery:
            for _ in range(64):
                nursery.start_soon(submit)
            while done.n < 64:
                await trio.testing.wait_all_tasks_blocked()  # the window is full again
                assert len(held) <= 8
                for request in held:
                    request.respond(SubmitSMResp(message_id="x"))
                held.clear()
    assert peak.n == 8


async def test_response_timeout_frees_the_slot(autojump_clock: trio.testing.MockClock) -> None:
    _, handler = auto_mc(answer_submits=False)
    options = LinkOptions(window=1, response_timeout=3.0)
    async with linked(options, handler=handler) as (esme, _mc):
        await esme.bind(BindTransceiver(password="pw"))
        start = trio.current_time()
        with pytest.raises(ResponseTimeout):
            await esme.request(SubmitSM())
        assert trio.current_time() - start == pytest.approx(3.0, abs=0.01)
        assert esme.session.in_flight == 0
        with pytest.raises(ResponseTimeout):
            await esme.request(SubmitSM())


async def test_keepalive_probes_idle_link(autojump_clock: trio.testing.MockClock) -> None:
    _, handler = auto_mc()
    options = LinkOptions(enquire_link_interval=30.0, response_timeout=5.0)
    async with linked(options, handler=handler) as (esme, mc):
        await esme.bind(BindTransceiver(password="pw"))
        await trio.sleep(95)
        assert not esme.closed
        # Silence from the MC side: the ESME probes every 30 s and each probe is answered.
        assert esme.probes_sent == 3
        assert mc.probes_sent == 3


async def test_dead_peer_is_detected_by_keepalive(autojump_clock: trio.testing.MockClock) -> None:
    """A peer that stops answering: the probe times out and the connection closes."""
    left, right = trio.testing.memory_stream_pair()
    options = LinkOptions(enquire_link_interval=10.0, response_timeout=5.0)
    async with open_connection(left, Role.ESME, options) as esme:
        await trio.sleep(16)
        assert esme.closed
        assert "unanswered" in esme.close_reason or "no response" in esme.close_reason
    await right.aclose()


async def test_inbound_requests_stream_and_answers(autojump_clock: trio.testing.MockClock) -> None:
    _, handler = auto_mc()
    async with linked(handler=handler) as (esme, mc):
        await esme.bind(BindTransceiver(password="pw"))
        results = []

        async def deliver(i: int) -> None:
            results.append(await mc.request(DeliverSM(short_message=b"JA%d" % i)))

        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(deliver, i)
            for _ in range(5):
                request = await esme.requests.receive()
                assert isinstance(request.pdu, DeliverSM)
                request.respond(DeliverSMResp())
        assert len(results) == 5
        assert all(r.command_status == 0 for r in results)


async def test_connection_loss_fails_waiters(autojump_clock: trio.testing.MockClock) -> None:
    _, handler = auto_mc(answer_submits=False)
    async with linked(LinkOptions(response_timeout=60), handler=handler) as (esme, mc):
        await esme.bind(BindTransceiver(password="pw"))
        async with trio.open_nursery() as nursery:

            async def close_soon() -> None:
                await trio.sleep(1)
                await mc.aclose()

            nursery.start_soon(close_soon)
            with pytest.raises(ConnectionLost):
                await esme.request(SubmitSM())
        with pytest.raises(ConnectionLost):
            await esme.request(SubmitSM())


async def test_real_tcp_bind_and_submit() -> None:
    submits, handler = auto_mc()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def serve(stream: trio.SocketStream) -> None:
                async with open_connection(stream, Role.MC, handler=handler) as conn:
                    await conn.wait_closed()

            listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            async with connect("127.0.0.1", port) as esme:
                await esme.bind(BindTransceiver(password="pw"))
                async with trio.open_nursery() as senders:
                    for _ in range(200):
                        senders.start_soon(esme.request, SubmitSM(short_message=b"JA"))
                await esme.unbind()
            nursery.cancel_scope.cancel()
    assert submits.n == 200


async def test_errors_in_the_block_come_back_unwrapped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    _, handler = auto_mc()
    with pytest.raises(BindError):
        async with linked(handler=handler) as (esme, _mc):
            await esme.bind(BindTransceiver(password="wrong"))
