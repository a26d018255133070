"""Peer SMPP clients for the fan-out benchmark, each run in a process of its own.

``python -m bench._peers NAME --port PORT --messages N [--binds B] [--window W]`` binds NAME's
client to the simulator, sends N submit_sm (the text, sender and numbers of ``bench.fanout``),
waits for every submit_sm_resp and prints one JSON line: ``{"peer", "messages", "ok",
"errors", "elapsed", "rate", "cpu"}`` (``cpu``: seconds of this process's CPU, every thread,
while the clock ran), or ``{"peer", "error"}`` when the client cannot run here.
The clock starts once every bind is up and stops at the last response.

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
import sys
import time
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


class PeerResult(TypedDict):
    peer: str
    messages: int
    ok: int
    errors: int
    elapsed: float
    rate: float
    cpu: float


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
    )


# --- smpplib ----------------------------------------------------------------------------------


def run_smpplib(host: str, port: int, messages: int, binds: int, window: int) -> PeerResult:
    """One bind (a blocking client cannot use more from one thread), pipelined ``window`` deep."""
    import smpplib.client
    import smpplib.consts

    client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
    counts = {"ok": 0, "errors": 0}

    def sent(pdu: Any, **_: Any) -> None:
        counts["ok"] += 1

    def error(pdu: Any) -> None:
        counts["errors"] += 1

    client.set_message_sent_handler(sent)
    client.set_error_pdu_handler(error)
    client.connect()
    try:
        client.bind_transceiver(system_id="ja", password="pw")
        clock = _Clock()
        send, read = client.send_message, client.read_once
        for i in range(messages):
            while i - counts["ok"] - counts["errors"] >= window:
                read()
            send(
                source_addr_ton=smpplib.consts.SMPP_TON_NWSPEC,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr=SHORT_CODE,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=destination(i),
                registered_delivery=0,
                short_message=TEXT_BYTES,
            )
        while counts["ok"] + counts["errors"] < messages:
            read()
        elapsed, cpu = clock.stop()
        client.unbind()
    finally:
        client.disconnect()
    return _result("smpplib", messages, counts, elapsed, cpu)


# --- aiosmpplib -------------------------------------------------------------------------------


def _lean_correlator() -> Any:
    """An ``AbstractCorrelator`` with O(1) operations and no receipt bookkeeping."""
    import aiosmpplib

    class LeanCorrelator(aiosmpplib.AbstractCorrelator):  # type: ignore[misc]
        def __init__(self) -> None:
            self.pending: dict[int, Any] = {}

        def get_cumulated_status(self, ref_num: int) -> int:
            return 0

        async def expired(self, smpp_message: Any) -> None:
            pass

        async def put(self, smpp_message: Any) -> None:
            self.pending[smpp_message.sequence_num] = smpp_message

        async def put_delivery(self, smsc_message_id: str, submit_sm: Any) -> None:
            pass  # registered_delivery=0: no receipt will come

        async def put_delivery_segmented(self, deliver_sm: Any) -> Any:
            return deliver_sm

        async def get(self, response: Any) -> Any:
            return self.pending.pop(response.sequence_num, None)

        async def get_segmented(self, smpp_seq_num: int, remove: bool = False) -> Any:
            return None, 0

        async def get_delivery(self, receipt: Any) -> Any:
            return None

    return LeanCorrelator()


async def _aiosmpplib(host: str, port: int, messages: int, binds: int, window: int) -> PeerResult:
    import aiosmpplib
    from aiosmpplib.broker import SimpleBroker

    done = asyncio.Event()
    room = asyncio.Semaphore(window * binds)
    counts = {"ok": 0, "errors": 0}

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
                settle(smpp_message.command_status == aiosmpplib.SmppCommandStatus.ESME_ROK)
            elif isinstance(smpp_message, aiosmpplib.GenericNack):
                settle(False)

        async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
            settle(False)

    broker = SimpleBroker(maxsize=window * binds)
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
        source = aiosmpplib.PhoneNumber(SHORT_CODE, aiosmpplib.TON.NETWORK_SPECIFIC)
        clock = _Clock()
        for i in range(messages):
            await room.acquire()
            await broker.enqueue(
                aiosmpplib.SubmitSm(
                    short_message=TEXT,
                    source=source,
                    destination=aiosmpplib.PhoneNumber(
                        destination(i), aiosmpplib.TON.INTERNATIONAL, aiosmpplib.NPI.ISDN
                    ),
                    registered_delivery=0,
                )
            )
        await done.wait()
        elapsed, cpu = clock.stop()
    finally:
        for esme in esmes:
            try:
                async with asyncio.timeout(5):
                    await esme.stop()
            except TimeoutError:
                pass
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return _result("aiosmpplib", messages, counts, elapsed, cpu)


def run_aiosmpplib(host: str, port: int, messages: int, binds: int, window: int) -> PeerResult:
    return asyncio.run(_aiosmpplib(host, port, messages, binds, window))


# --- smpp34 -----------------------------------------------------------------------------------


async def _smpp34(host: str, port: int, messages: int, binds: int, window: int) -> PeerResult:
    import smpp34

    clients = [smpp34.Client(host, port, "ja", "pw", window_size=window) for _ in range(binds)]
    sessions = await asyncio.gather(*(client.connect() for client in clients))
    counts = {"ok": 0, "errors": 0}
    workers = binds * window

    async def worker(session: Any, first: int) -> None:
        submit = session.submit_sm
        for i in range(first, messages, workers):
            resp = await submit(
                destination(i),
                TEXT_BYTES,
                source_addr=SHORT_CODE,
                source_addr_ton=3,
                source_addr_npi=0,
                dest_addr_ton=1,
                dest_addr_npi=1,
                registered_delivery=0,
            )
            counts["ok" if resp.is_success else "errors"] += 1

    try:
        clock = _Clock()
        await asyncio.gather(*(worker(sessions[w % binds], w) for w in range(workers)))
        elapsed, cpu = clock.stop()
        await asyncio.gather(*(session.unbind() for session in sessions), return_exceptions=True)
    finally:
        await asyncio.gather(*(client.stop() for client in clients), return_exceptions=True)
    return _result("smpp34", messages, counts, elapsed, cpu)


def run_smpp34(host: str, port: int, messages: int, binds: int, window: int) -> PeerResult:
    return asyncio.run(_smpp34(host, port, messages, binds, window))


# --- the command ------------------------------------------------------------------------------

PEERS: dict[str, Callable[[str, int, int, int, int], PeerResult]] = {
    "smpplib": run_smpplib,
    "aiosmpplib": run_aiosmpplib,
    "smpp34": run_smpp34,
}


def run_peer(name: str, host: str, port: int, messages: int, binds: int, window: int) -> PeerResult:
    return PEERS[name](host, port, messages, binds, window)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._peers", description=__doc__)
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--binds", type=int, default=4)
    parser.add_argument("--window", type=int, default=512)
    args = parser.parse_args(argv)
    why = missing(args.peer)
    if why is not None:
        print(json.dumps({"peer": args.peer, "error": why}), flush=True)
        return 0
    result = run_peer(args.peer, args.host, args.port, args.messages, args.binds, args.window)
    print(json.dumps(result), flush=True)
    if args.peer == "smpp34":
        # smpp34 1.5.0 sometimes aborts while the interpreter finalizes ("PyGILState_Release:
        # thread state ... must be current", SIGABRT/SIGSEGV) after its tokio threads outlive
        # asyncio.run. The result is out and flushed: leave without finalizing.
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
