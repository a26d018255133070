"""Peer SMPP clients for the fan-out benchmark, each run in a process of its own.

``python -m bench._peers NAME --port PORT --messages N [--binds B] [--window W] [--receipts]``
binds NAME's client to the simulator, sends N submit_sm (the text, sender and numbers of
``bench.fanout``), waits for every submit_sm_resp and prints one JSON line: ``{"peer",
"messages", "ok", "errors", "elapsed", "rate", "cpu", "receipts"}`` (``cpu``: seconds of this
process's CPU, every thread, while the clock ran; ``receipts``: delivery receipts received
by then), or ``{"peer", "error"}`` when the client cannot run here. The clock starts once
every bind is up and stops at the last response.

With ``--receipts`` every submit_sm asks for a receipt (registered_delivery=1, as the engine
always does) and every client acknowledges each deliver_sm the way it is built to: smpplib
answers it inside ``read_once`` (after calling the received handler), aiosmpplib in its
reader after the hook, smpp34's core by itself while the application drains ``Smsc.next()``
(one task per bind here, its inbound queue sized for every receipt of the run: see
``_smpp34``). Without it they ask for none (registered_delivery=0).

A message centre pushes back with ESME_RMSGQFUL or ESME_RTHROTTLED (the simulator does when
its receipt queue for the account is full); a production client sends the refused message
again later, and so do the peers: each refused submit goes again after ``RETRY_AFTER`` (1 s,
as long as the engine pauses its bind), every message is answered ESME_ROK in the end, and
the count of refusals is in the result (``refused``). smpplib keeps reading (and taking
receipts) while it waits; aiosmpplib's own ``SimpleThrottleHandler``, which stops sending
while throttles exceed 1% of the answers, is given a one-second period and wait instead of
its defaults (180 s and 3 s, which would stop a run for minutes after one push-back).

Each client is used the way its documentation intends, at its best:

* ``smpplib`` (blocking sockets, no window of its own): one bind, ``send_message`` while
  fewer than ``window`` responses are outstanding, else ``read_once`` (which parses one PDU
  and calls the sent handler). Pipelining like this is faster than the README's pattern
  (``listen()`` in a thread, ``send_message`` from another), because both halves would fight
  over the GIL; it is smpplib's best case.
* ``aiosmpplib`` (asyncio): its broker/hook design. One ``ESME`` per bind, all dequeuing from
  one shared ``SimpleBroker``; the application enqueues ``SubmitSm`` and learns of each
  response through ``AbstractHook.received``. aiosmpplib has no window, so the feeder keeps
  at most ``window`` per bind unanswered (a semaphore released by the hook), which keeps the
  simulator's window from answering ESME_RMSGQFUL. Its default ``SimpleCorrelator`` (documented
  as "not suitable for production") keeps every message id for three days and scans all of
  them on every request and response, so a run slows quadratically (14k messages took over a
  minute); the peer plugs in ``_LeanCorrelator``, a plain dict by sequence number, which is
  what the library's pluggable-correlator design expects a production user to do. Logging
  is at CRITICAL: aiosmpplib saves the correlation only after ``drain()``, so a fast
  response logs "Could not correlate" (the response still reaches the hook and is counted).
* ``smpp34`` (Rust/tokio core, asyncio API): ``Client(window_size=window)`` per bind and
  ``window`` concurrent tasks per bind, each awaiting ``Smsc.submit_sm``.

All three run on the default asyncio event loop (no uvloop) where they are asynchronous.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import select
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

__all__ = [
    "DEST_FIRST",
    "PEERS",
    "SHORT_CODE",
    "TEXT",
    "PeerResult",
    "destination",
    "missing",
    "run_peer",
]

SHORT_CODE = "4777"
"""The sender of every message (TON 3, network specific, as the engine's binds default to)."""
DEST_FIRST = 31600000000
"""Message i goes to +DEST_FIRST+i (E.164, TON 1 / NPI 1 on the wire)."""
TEXT = (
    "URGENT ACTION: Free the jailed defenders now. Reply JA to sign our appeal. "
    "Reply STOP to opt out. Ty"
)
"""100 characters of the GSM 03.38 default alphabet: one part, data_coding 0."""
assert len(TEXT) == 100, len(TEXT)
TEXT_BYTES = TEXT.encode("ascii")
RETRYABLE = frozenset({0x14, 0x58})
"""ESME_RMSGQFUL and ESME_RTHROTTLED: the message centre's push-back, not a verdict."""
RETRY_AFTER = 1.0
"""Seconds before a refused submit is sent again (the engine pauses its bind as long)."""


class PeerResult(TypedDict):
    peer: str
    messages: int
    ok: int
    errors: int
    elapsed: float
    rate: float
    cpu: float
    receipts: int
    refused: int
    """Submits answered ESME_RMSGQFUL or ESME_RTHROTTLED, each sent again later."""


def destination(i: int) -> str:
    """Message i's destination as SMPP digits (no '+')."""
    return str(DEST_FIRST + i)


def missing(peer: str) -> str | None:
    """Why ``peer`` cannot run here (its import fails), or None."""
    module = {"smpplib": "smpplib.client", "aiosmpplib": "aiosmpplib", "smpp34": "smpp34"}[peer]
    try:
        importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the platform
        return f"{module} does not import: {exc}"
    return None


class _Clock:
    """Wall time and process CPU time (every thread) from construction to ``stop``."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _result(
    peer: str, messages: int, counts: dict[str, int], elapsed: float, cpu: float
) -> PeerResult:
    ok, errors = counts["ok"], counts["errors"]
    return PeerResult(
        peer=peer,
        messages=messages,
        ok=ok,
        errors=errors,
        elapsed=elapsed,
        rate=(ok + errors) / elapsed if elapsed > 0 else 0.0,
        cpu=cpu,
        receipts=counts["receipts"],
        refused=counts["refused"],
    )


# --- smpplib ----------------------------------------------------------------------------------


def run_smpplib(
    host: str, port: int, messages: int, binds: int, window: int, receipts: bool
) -> PeerResult:
    """One bind (a blocking client cannot use more from one thread), pipelined ``window`` deep."""
    import smpplib.client
    import smpplib.consts

    client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
    counts = {"ok": 0, "errors": 0, "receipts": 0, "refused": 0}
    pending: dict[int, int] = {}  # sequence number -> message, for every unanswered submit
    due: deque[tuple[float, int]] = deque()  # (when, message): refused, to be sent again

    def sent(pdu: Any, **_: Any) -> None:
        if pdu.status == 0:  # an error answer reaches error() first, then this handler too
            pending.pop(pdu.sequence, None)
            counts["ok"] += 1

    def error(pdu: Any) -> None:
        i = pending.pop(pdu.sequence, None)
        if pdu.status in RETRYABLE and i is not None:
            counts["refused"] += 1
            due.append((time.monotonic() + RETRY_AFTER, i))
        else:
            counts["errors"] += 1

    def received(pdu: Any, **_: Any) -> None:
        counts["receipts"] += 1  # read_once sends the deliver_sm_resp after this returns

    client.set_message_sent_handler(sent)
    client.set_error_pdu_handler(error)
    client.set_message_received_handler(received)
    client.connect()

    def submit(i: int) -> None:
        pdu = client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_NWSPEC,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr=SHORT_CODE,
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr=destination(i),
            registered_delivery=int(receipts),
            short_message=TEXT_BYTES,
        )
        pending[pdu.sequence] = i

    try:
        client.bind_transceiver(system_id="ja", password="pw")
        clock = _Clock()
        read, fresh = client.read_once, 0
        while counts["ok"] + counts["errors"] < messages:
            room = len(pending) < window
            if room and due and due[0][0] <= time.monotonic():
                submit(due.popleft()[1])
            elif room and fresh < messages:
                submit(fresh)
                fresh += 1
            elif pending:
                read()
            else:  # only refused ones left, none due yet: take receipts meanwhile
                wait = max(0.0, due[0][0] - time.monotonic())
                if select.select([client._socket], [], [], wait)[0]:  # smpplib has no poll
                    read()
        elapsed, cpu = clock.stop()
        result = _result("smpplib", messages, counts, elapsed, cpu)
        client.unbind()
    finally:
        client.disconnect()
    return result


# --- aiosmpplib -------------------------------------------------------------------------------


def _lean_correlator() -> Any:
    """An ``AbstractCorrelator`` with O(1) operations: a dict by sequence number for the
    responses, one by message id for the receipts."""
    import aiosmpplib

    class LeanCorrelator(aiosmpplib.AbstractCorrelator):  # type: ignore[misc]
        def __init__(self) -> None:
            self.pending: dict[int, Any] = {}
            self.delivery: dict[str, Any] = {}

        def get_cumulated_status(self, ref_num: int) -> int:
            return 0

        async def expired(self, smpp_message: Any) -> None:
            pass

        async def put(self, smpp_message: Any) -> None:
            self.pending[smpp_message.sequence_num] = smpp_message

        async def put_delivery(self, smsc_message_id: str, submit_sm: Any) -> None:
            if submit_sm.registered_delivery:
                self.delivery[smsc_message_id] = submit_sm

        async def put_delivery_segmented(self, deliver_sm: Any) -> Any:
            return deliver_sm

        async def get(self, response: Any) -> Any:
            return self.pending.pop(response.sequence_num, None)

        async def get_segmented(self, smpp_seq_num: int, remove: bool = False) -> Any:
            return None, 0

        async def get_delivery(self, receipt: Any) -> Any:
            return self.delivery.pop(str(receipt.parse_receipt().get("id", "")), None)

    return LeanCorrelator()


async def _aiosmpplib(
    host: str, port: int, messages: int, binds: int, window: int, receipts: bool
) -> PeerResult:
    import aiosmpplib
    from aiosmpplib.broker import SimpleBroker
    from aiosmpplib.throttle import SimpleThrottleHandler

    done = asyncio.Event()
    room = asyncio.Semaphore(window * binds)
    counts = {"ok": 0, "errors": 0, "receipts": 0, "refused": 0}
    source = aiosmpplib.PhoneNumber(SHORT_CODE, aiosmpplib.TON.NETWORK_SPECIFIC)
    again: set[asyncio.Task[None]] = set()
    refusals = {aiosmpplib.SmppCommandStatus(code) for code in RETRYABLE}

    def message(i: int) -> Any:
        return aiosmpplib.SubmitSm(
            short_message=TEXT,
            source=source,
            destination=aiosmpplib.PhoneNumber(
                destination(i), aiosmpplib.TON.INTERNATIONAL, aiosmpplib.NPI.ISDN
            ),
            registered_delivery=int(receipts),
            log_id=str(i),  # the response carries it: which message to send again
        )

    async def resend(i: int) -> None:
        await asyncio.sleep(RETRY_AFTER)
        await broker.enqueue(message(i))

    def settle(ok: bool) -> None:
        counts["ok" if ok else "errors"] += 1
        room.release()
        if counts["ok"] + counts["errors"] >= messages:
            done.set()

    class Hook(aiosmpplib.AbstractHook):  # type: ignore[misc]
        async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
            pass

        async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
            if isinstance(smpp_message, aiosmpplib.SubmitSmResp):
                if smpp_message.command_status in refusals:
                    counts["refused"] += 1  # its slot stays taken until it is answered
                    task = asyncio.create_task(resend(int(smpp_message.log_id)))
                    again.add(task)
                    task.add_done_callback(again.discard)
                    return
                settle(smpp_message.command_status == aiosmpplib.SmppCommandStatus.ESME_ROK)
            elif isinstance(smpp_message, aiosmpplib.GenericNack):
                settle(False)
            elif isinstance(smpp_message, aiosmpplib.DeliverSm):
                counts["receipts"] += 1  # the reader answers deliver_sm_resp after this hook

        async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
            settle(False)

    broker = SimpleBroker(maxsize=window * binds)
    logger = aiosmpplib.StructuredLogger("bench", level="CRITICAL")
    esmes = [
        aiosmpplib.ESME(
            smsc_host=host,
            smsc_port=port,
            system_id="ja",
            password="pw",
            client_id=f"bench{n}",
            log_level="CRITICAL",
            hook=Hook(),
            broker=broker,
            correlator=_lean_correlator(),
            throttle_handler=SimpleThrottleHandler(
                logger, sampling_period=1.0, sample_size=50.0, throttle_wait=1.0
            ),
        )
        for n in range(binds)
    ]
    tasks = [asyncio.create_task(esme.start()) for esme in esmes]
    bound = aiosmpplib.BindMode.TRANSCEIVER.session_state
    try:
        async with asyncio.timeout(10):
            # aiosmpplib offers no public "bound" event: poll its session state.
            while any(esme.session_state != bound for esme in esmes):  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        clock = _Clock()
        for i in range(messages):
            await room.acquire()
            await broker.enqueue(message(i))
        await done.wait()
        elapsed, cpu = clock.stop()
        result = _result("aiosmpplib", messages, counts, elapsed, cpu)
    finally:
        for esme in esmes:
            try:
                async with asyncio.timeout(5):
                    await esme.stop()
            except TimeoutError:
                pass
        for task in [*tasks, *again]:
            task.cancel()
        await asyncio.gather(*tasks, *again, return_exceptions=True)
    return result


def run_aiosmpplib(
    host: str, port: int, messages: int, binds: int, window: int, receipts: bool
) -> PeerResult:
    return asyncio.run(_aiosmpplib(host, port, messages, binds, window, receipts))


# --- smpp34 -----------------------------------------------------------------------------------


async def _smpp34(
    host: str, port: int, messages: int, binds: int, window: int, receipts: bool
) -> PeerResult:
    import smpp34

    # Room for every receipt of the run in the core's inbound queue: with its default, the
    # core ends the session once the application falls behind draining it, which it does
    # while thousands of submit tasks share the event loop with the drains.
    clients = [
        smpp34.Client(host, port, "ja", "pw", window_size=window, inbound_capacity=messages + 1024)
        for _ in range(binds)
    ]
    sessions = await asyncio.gather(*(client.connect() for client in clients))
    counts = {"ok": 0, "errors": 0, "receipts": 0, "refused": 0}
    workers = binds * window

    async def drain(session: Any) -> None:
        """Take each inbound deliver_sm (the core has acknowledged it) until unbound."""
        while not isinstance(await session.next(), smpp34.Disconnected):
            counts["receipts"] += 1

    async def worker(session: Any, first: int) -> None:
        submit = session.submit_sm
        for i in range(first, messages, workers):
            while True:
                resp = await submit(
                    destination(i),
                    TEXT_BYTES,
                    source_addr=SHORT_CODE,
                    source_addr_ton=3,
                    source_addr_npi=0,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    registered_delivery=int(receipts),
                )
                if resp.command_status not in RETRYABLE:
                    break
                counts["refused"] += 1
                await asyncio.sleep(RETRY_AFTER)
            counts["ok" if resp.is_success else "errors"] += 1

    drains = [asyncio.create_task(drain(session)) for session in sessions]
    try:
        clock = _Clock()
        await asyncio.gather(*(worker(sessions[w % binds], w) for w in range(workers)))
        elapsed, cpu = clock.stop()
        result = _result("smpp34", messages, counts, elapsed, cpu)
        await asyncio.gather(*(session.unbind() for session in sessions), return_exceptions=True)
    finally:
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        await asyncio.gather(*(client.stop() for client in clients), return_exceptions=True)
    return result


def run_smpp34(
    host: str, port: int, messages: int, binds: int, window: int, receipts: bool
) -> PeerResult:
    return asyncio.run(_smpp34(host, port, messages, binds, window, receipts))


# --- the command ------------------------------------------------------------------------------

PEERS: dict[str, Callable[[str, int, int, int, int, bool], PeerResult]] = {
    "smpplib": run_smpplib,
    "aiosmpplib": run_aiosmpplib,
    "smpp34": run_smpp34,
}


def run_peer(
    name: str, host: str, port: int, messages: int, binds: int, window: int, receipts: bool
) -> PeerResult:
    return PEERS[name](host, port, messages, binds, window, receipts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._peers", description=__doc__)
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--binds", type=int, default=4)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--receipts", action="store_true", help="ask for (and take) receipts")
    args = parser.parse_args(argv)
    why = missing(args.peer)
    if why is not None:
        print(json.dumps({"peer": args.peer, "error": why}), flush=True)
        return 0
    result = run_peer(
        args.peer, args.host, args.port, args.messages, args.binds, args.window, args.receipts
    )
    print(json.dumps(result), flush=True)
    if args.peer == "smpp34":
        # smpp34 1.5.0 sometimes aborts while the interpreter finalizes ("PyGILState_Release:
        # thread state ... must be current", SIGABRT/SIGSEGV) after its tokio threads outlive
        # asyncio.run. The result is out and flushed: leave without finalizing.
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
