"""How fast the SMSC simulator answers, so that it is never an engine benchmark's bottleneck.

``python -m bench.simulator [--quick] [--json] [--rounds N] [--messages N]``

The simulator runs in a subprocess (``python -m smpp.simulator --port 0 ...``), the client
in this process, one connection with a window of 1,024. Cases, each on a fresh simulator,
each measured in several rounds:

* ``submit_sm_receipts_off``: submit_sm answered per second, no receipts, no replies;
* ``submit_sm_receipts_replies_on``: the same with registered_delivery=1 (a receipt per
  message, due at once) and handsets replying (probability 0.3, compressed delays); the
  client answers every deliver_sm at once and keeps at most 8,192 messages awaiting their
  receipt. Reported: messages per second end to end, a round ending when every submit is
  answered and every receipt has arrived (replies trail on, as they do in life);
* ``mo_emitted``: deliver_sm per second the simulator emits in TV mode at maximum rate,
  counted (and answered) by the client.

Two clients load the simulator. ``ja-engine`` is a pipelined load generator: PDUs encoded
by our codec before the clock starts, responses counted from their headers, deliver_sm
answered with a pre-built deliver_sm_resp, so the client costs well under a microsecond
per PDU and the figure is the simulator's. ``transport-client`` is our Trio transport's
callback path (``Connection.send``), what the engine uses; on these 2 cores it reaches
about 50,000 pairs/s against a message centre that does nothing, so past that it measures
itself, not the simulator. As a reference point, smpplib's blocking client submits to the
same simulator one request at a time (the only way its API works). ``bare-transport-mc``
is the ceiling: a message centre on the same transport that only answers submit_sm,
loaded by the same generator; the simulator cannot be faster than it.

Goals (issue 3): 60,000/s receipts off, 30,000/s receipts and replies on.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import trio

from bench._report import OURS, Stats, format_table, ratios, report_object, summarise
from smpp.codec import encode_pdu
from smpp.constants import CommandId
from smpp.pdu import BindTransceiver, DeliverSM, DeliverSMResp, SubmitSM, SubmitSMResp
from smpp.state import Role
from smpp.transport import (
    Connection,
    InboundRequest,
    LinkOptions,
    Outcome,
    connect,
    open_connection,
)

FIRST = 31600000000
HANDSETS = 1_000_000
WINDOW = 1024
TRANSPORT = "transport-client"
CEILING = "bare-transport-mc"
_HEADER = struct.Struct(">IIII")
_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM = int(CommandId.DELIVER_SM)
_ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
_DELIVER_SM_RESP_HEAD = _HEADER.pack(17, CommandId.DELIVER_SM_RESP, 0, 0)[:12]
_ENQUIRE_LINK_RESP_HEAD = _HEADER.pack(16, CommandId.ENQUIRE_LINK_RESP, 0, 0)[:12]
AWAITING = 8 * WINDOW
"""With receipts on, messages sent whose receipt has not arrived, at most: the rate
measured is one the simulator sustains, not a queue filling up."""
GOALS = {"submit_sm_receipts_off": 60_000, "submit_sm_receipts_replies_on": 30_000}


def simulator(*flags: str) -> AbstractAsyncContextManager[tuple[str, int]]:
    """A simulator subprocess; yields where it listens. Stopped with SIGTERM."""
    return server_process(
        sys.executable, "-m", "smpp.simulator", "--port", "0",
        "--handsets", str(HANDSETS), "--first-number", str(FIRST),
        "--deliver-window", str(WINDOW), "--ledger-limit", "0", *flags,
    )  # fmt: skip


def bare_mc() -> AbstractAsyncContextManager[tuple[str, int]]:
    """The ceiling: a message centre that only answers submit_sm, on the same transport."""
    return server_process(sys.executable, "-m", "bench.simulator", "--bare-mc")


@asynccontextmanager
async def server_process(*command: str) -> AsyncIterator[tuple[str, int]]:
    """Run ``command`` until it prints ``listening on HOST:PORT``; yield that address."""
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    try:
        seen = b""
        with trio.fail_after(30):
            while (match := re.search(rb"listening on (\S+):(\d+)\n", seen)) is None:
                chunk = await process.stdout.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"simulator exited: {seen.decode(errors='replace')}")
                seen += chunk
        yield match[1].decode(), int(match[2])
    finally:
        process.terminate()
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()


class Counter:
    """Answers every deliver_sm at once and counts them."""

    def __init__(self) -> None:
        self.n = 0
        self.receipts = 0
        self.changed = trio.Event()

    def __call__(self, request: InboundRequest) -> None:
        pdu = request.pdu
        if isinstance(pdu, DeliverSM):
            self.n += 1
            self.receipts += pdu.esm_class & 0x04 != 0
            self.changed.set()
            request.respond(DeliverSMResp())
        else:
            request.respond()


@asynccontextmanager
async def client(host: str, port: int) -> AsyncIterator[tuple[Connection, Counter]]:
    counter = Counter()
    options = LinkOptions(window=WINDOW, response_timeout=30.0)
    async with connect(host, port, options, handler=counter) as conn:
        await conn.bind(BindTransceiver(system_id="sim", password="sim"))
        yield conn, counter


async def submit_round(
    conn: Connection, counter: Counter, n: int, registered: int, offset: int
) -> float:
    """Send ``n`` submits through the window; messages per second (answered, and their
    receipts in when ``registered``)."""
    pdus = [
        SubmitSM(
            source_addr="4000",
            destination_addr=str(FIRST + (offset + i) % HANDSETS),
            registered_delivery=registered,
            short_message=b"Teken de oproep: laat de gevangenen vrij",
        )
        for i in range(n)
    ]
    done = trio.Event()
    answered = 0

    def on_done(_outcome: Outcome) -> None:
        nonlocal answered
        answered += 1
        if answered == n:
            done.set()

    counter.receipts = 0
    start = time.perf_counter()
    for sent, pdu in enumerate(pdus):
        while registered and sent - counter.receipts >= AWAITING:
            counter.changed = trio.Event()
            await counter.changed.wait()
        await conn.send(pdu, on_done)
    await done.wait()
    while registered and counter.receipts < n:
        counter.changed = trio.Event()
        await counter.changed.wait()
    return n / (time.perf_counter() - start)


async def transport_case(flags: list[str], registered: int, n: int, rounds: int) -> list[float]:
    async with simulator(*flags) as (host, port), client(host, port) as (conn, counter):
        await submit_round(conn, counter, min(n, 5000), registered, 0)  # warm-up
        return [
            await submit_round(conn, counter, n, registered, (r + 1) * n) for r in range(rounds)
        ]


class RawClient:
    """A pipelined ESME that does almost no work per PDU (see the module docstring)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.answered = 0
        self.delivered = 0
        self.receipts = 0
        self._seq = 1

    async def _exchange(self, out: bytes) -> None:
        """Send ``out`` (with answers to deliver_sm read so far), then read what came."""
        await self.stream.send_all(out)
        data = await self.stream.receive_some(256 * 1024)
        if not data:
            raise ConnectionError("simulator closed the connection")
        buf = self.buffer
        buf += data
        pos, end, answers = 0, len(buf), []
        while end - pos >= 16:
            length, cid, _, seq = _HEADER.unpack_from(buf, pos)
            if end - pos < length:
                break
            if cid == _SUBMIT_SM_RESP:
                self.answered += 1
            elif cid == _DELIVER_SM:
                self.delivered += 1
                # esm_class follows three C-octet strings and two ton/npi pairs (§4.6.1).
                at = buf.find(0, pos + 16)
                at = buf.find(0, at + 3)
                at = buf.find(0, at + 3)
                self.receipts += buf[at + 1] & 0x04 != 0
                answers.append(_DELIVER_SM_RESP_HEAD + seq.to_bytes(4, "big") + b"\0")
            elif cid == _ENQUIRE_LINK:
                answers.append(_ENQUIRE_LINK_RESP_HEAD + seq.to_bytes(4, "big"))
            pos += length
        del buf[:pos]
        self._answers = b"".join(answers)

    async def bind(self) -> None:
        self._answers = b""
        await self._exchange(encode_pdu(BindTransceiver(system_id="sim", password="sim"), 1))

    def encode(self, n: int, registered: int, offset: int) -> list[bytes]:
        out = []
        for i in range(n):
            self._seq += 1
            pdu = SubmitSM(
                source_addr="4000",
                destination_addr=str(FIRST + (offset + i) % HANDSETS),
                registered_delivery=registered,
                short_message=b"Teken de oproep: laat de gevangenen vrij",
            )
            out.append(encode_pdu(pdu, self._seq))
        return out

    async def submit(self, pdus: list[bytes], receipts: bool = False) -> float:
        """Messages per second: all answered (and, with ``receipts``, all receipts in).

        At most WINDOW submits are outstanding.
        """
        self.answered = self.receipts = 0
        sent, n = 0, len(pdus)
        wanted = n if receipts else 0
        start = time.perf_counter()
        while self.answered < n or self.receipts < wanted:
            room = min(WINDOW - (sent - self.answered), n - sent)
            if receipts:  # no more than AWAITING messages without their receipt
                room = min(room, AWAITING - (sent - self.receipts))
            batch = b"".join(pdus[sent : sent + room]) if room > 0 else b""
            sent += max(room, 0)
            await self._exchange(self._answers + batch)
        return n / (time.perf_counter() - start)

    async def count_mo(self, seconds: float) -> float:
        before, start = self.delivered, time.perf_counter()
        while time.perf_counter() - start < seconds:
            await self._exchange(self._answers)
        return (self.delivered - before) / (time.perf_counter() - start)


@asynccontextmanager
async def raw_client(host: str, port: int) -> AsyncIterator[RawClient]:
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        raw = RawClient(stream)
        await raw.bind()
        yield raw


async def submit_case(flags: list[str], registered: int, n: int, rounds: int) -> list[float]:
    async with simulator(*flags) as (host, port), raw_client(host, port) as raw:
        receipts = registered != 0
        await raw.submit(raw.encode(min(n, 5000), registered, 0), receipts)  # warm-up
        return [
            await raw.submit(raw.encode(n, registered, (r + 1) * n), receipts)
            for r in range(rounds)
        ]


async def bare_case(n: int, rounds: int) -> list[float]:
    async with bare_mc() as (host, port), raw_client(host, port) as raw:
        await raw.submit(raw.encode(min(n, 5000), 0, 0))
        return [await raw.submit(raw.encode(n, 0, (r + 1) * n)) for r in range(rounds)]


async def serve_bare_mc() -> None:
    """``--bare-mc``: answer binds and submit_sm on the Trio transport, nothing else."""
    serial = 0

    def handle(request: InboundRequest) -> None:
        nonlocal serial
        if isinstance(request.pdu, SubmitSM):
            serial += 1
            request.respond(SubmitSMResp(message_id=format(serial, "x")))
        else:
            request.respond()

    async def serve(stream: trio.SocketStream) -> None:
        async with open_connection(stream, Role.MC, LinkOptions(window=WINDOW), handler=handle):
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        host, port = listeners[0].socket.getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)


async def mo_case(seconds: float, rounds: int) -> list[float]:
    async with simulator("--tv-rate", "max") as (host, port), raw_client(host, port) as raw:
        await raw.count_mo(seconds / 2)  # warm-up
        return [await raw.count_mo(seconds) for _ in range(rounds)]


async def transport_mo_case(seconds: float, rounds: int) -> list[float]:
    async with simulator("--tv-rate", "max") as (host, port), client(host, port) as (_, c):
        await trio.sleep(seconds / 2)  # warm-up
        figures = []
        for _ in range(rounds):
            before, start = c.n, time.perf_counter()
            await trio.sleep(seconds)
            figures.append((c.n - before) / (time.perf_counter() - start))
        return figures


def smpplib_round(port: int, n: int) -> float:
    """smpplib submitting one at a time (its blocking API) to the simulator."""
    import smpplib.client

    cli = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    cli.set_message_sent_handler(lambda pdu, **_: None)
    cli.connect()
    try:
        cli.bind_transceiver(system_id="sim", password="sim")
        start = time.perf_counter()
        for i in range(n):
            cli.send_message(
                source_addr="4000",
                destination_addr=str(FIRST + i),
                short_message=b"Teken de oproep: laat de gevangenen vrij",
            )
            cli.read_once()
        rate = n / (time.perf_counter() - start)
        cli.unbind()
    finally:
        cli.disconnect()
    return rate


async def smpplib_case(n: int, rounds: int) -> list[float]:
    async with simulator("--reply-probability", "0") as (_, port):
        return [await trio.to_thread.run_sync(smpplib_round, port, n) for _ in range(rounds)]


async def run(n: int, rounds: int, seconds: float) -> dict[str, dict[str, list[float]]]:
    """Every case's figures: ``n`` submits per round, ``seconds`` of MO per round."""
    off = ["--reply-probability", "0"]
    on = ["--reply-probability", "0.3", "--time-compression", "3600", "--receipt-delay", "0"]
    steps: list[tuple[str, str, Callable[[], Any]]] = [
        ("submit_sm_receipts_off", OURS, lambda: submit_case(off, 0, n, rounds)),
        ("submit_sm_receipts_off", TRANSPORT, lambda: transport_case(off, 0, n, rounds)),
        ("submit_sm_receipts_off", "smpplib", lambda: smpplib_case(max(n // 20, 500), rounds)),
        ("submit_sm_receipts_off", CEILING, lambda: bare_case(n, rounds)),
        ("submit_sm_receipts_replies_on", OURS, lambda: submit_case(on, 1, n, rounds)),
        ("submit_sm_receipts_replies_on", TRANSPORT, lambda: transport_case(on, 1, n, rounds)),
        ("mo_emitted", OURS, lambda: mo_case(seconds, rounds)),
        ("mo_emitted", TRANSPORT, lambda: transport_mo_case(seconds, rounds)),
    ]
    samples: dict[str, dict[str, list[float]]] = {}
    for case, contender, measure in steps:
        samples.setdefault(case, {})[contender] = await measure()
    return samples


def collect(quick: bool, rounds: int | None = None, messages: int | None = None) -> dict[str, Any]:
    """Every case, measured; the JSON object of ``--json``, with the goals."""
    rounds = rounds or (3 if quick else 5)
    messages = messages or (5_000 if quick else 200_000)
    seconds = 0.5 if quick else 3.0
    samples = trio.run(run, messages, rounds, seconds)
    results: dict[str, dict[str, Stats]] = {
        case: {name: summarise(figures) for name, figures in by.items()}
        for case, by in samples.items()
    }
    all_ratios = {case: ratios(by) for case, by in results.items() if len(by) > 1}
    obj = report_object("simulator", "PDU/s", results, all_ratios)
    obj["goals"] = GOALS
    obj["settings"] = {"rounds": rounds, "messages": messages, "mo_seconds": seconds}
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulator", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI: it runs)")
    parser.add_argument("--json", action="store_true", help="one JSON object as last line")
    parser.add_argument("--rounds", type=int, help="rounds per case (default 5, quick 3)")
    parser.add_argument("--messages", type=int, help="submits per round (default 200,000)")
    parser.add_argument("--bare-mc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_mc:
        trio.run(serve_bare_mc)
        return 0
    obj = collect(args.quick, args.rounds, args.messages)
    results = obj["results"]
    print(format_table(results, obj["ratios"], "PDU/s"))
    for case, goal in GOALS.items():
        median = results[case][OURS]["median"]
        verdict = "meets" if median >= goal else "BELOW"
        print(f"{case}: median {median:,.0f}/s {verdict} the goal of {goal:,}/s")
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
