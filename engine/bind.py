"""One carrier bind, kept up for as long as the engine runs.

Theory of operation. ``CarrierBind.run`` loops: connect (TCP or TLS), bind within the response
timeout, serve until the connection ends, then wait a jittered, exponentially growing delay and
start again. State changes are logged once: the first failure after being up is a warning, the
retries that follow are debug lines, and the recovery says how many attempts and how long it
took, so a carrier outage does not flood the log.

TLS. The handshake completes, and the certificate is checked against ``tls_pin_sha256``, before
the bind PDU (which carries the password) is sent. A refused certificate is not a network blip
but a configuration or security problem: it is logged at ERROR, once per distinct reason while
the bind is down, and the bind keeps retrying with its usual back-off.

Sending. A message is admitted whole: ``room(now)`` says how many PDUs the bind could take (up,
free window, tokens), ``take(n)`` reserves window slots and tokens for a whole message, and
``submit`` then puts every part on the wire in order on this bind, charging the one-second
window as they go. Responses come back through callbacks in the
connection's reader task. ESME_RTHROTTLED and ESME_RMSGQFUL pause the bind and halve its rate
(``engine.ratelimit.AdaptiveRate``), which then recovers step by step.
"""

from __future__ import annotations

import hashlib
import logging
import random
import ssl
from collections import Counter
from collections.abc import Callable, Sequence

import trio

from engine.config import BindConfig
from engine.masking import printable
from engine.ratelimit import AdaptiveRate
from smpp.constants import CommandStatus
from smpp.errors import ProtocolError
from smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter, SubmitSM
from smpp.state import Role
from smpp.transport import (
    BindError,
    Connection,
    ConnectionLost,
    InboundRequest,
    LinkOptions,
    Outcome,
    open_connection,
)

__all__ = ["THROTTLE_STATUSES", "BindListener", "CarrierBind", "NotSent", "TlsRefused"]

log = logging.getLogger(__name__)

INBOUND_BATCH = 512
INBOUND_BATCHES = 4
THROTTLE_STATUSES = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})
_BIND_PDUS: dict[str, type[BindTransmitter | BindReceiver | BindTransceiver]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}


class NotSent(Exception):
    """``CarrierBind.submit`` could not put the message on the wire; nothing was sent."""


class TlsRefused(Exception):
    """The carrier's certificate failed verification or matched no pin; nothing was sent."""


class BindListener:
    """What a bind tells the rest of the engine. Override what you need."""

    def bind_up(self, bind: CarrierBind) -> None:
        """The bind is bound and can take traffic."""

    def bind_down(self, bind: CarrierBind, reason: str) -> None:
        """The bind went down; its outstanding submits have been settled as ConnectionLost."""

    async def inbound(self, bind: CarrierBind, request: InboundRequest) -> None:
        """A deliver_sm/data_sm (or unbind) from the carrier; answer it exactly once."""
        request.respond()

    async def inbound_batch(self, bind: CarrierBind, requests: Sequence[InboundRequest]) -> None:
        """Several requests that arrived together; answer each exactly once."""
        for request in requests:
            await self.inbound(bind, request)


class CarrierBind:
    """A persistent bind: connection, window, rate and reconnects."""

    def __init__(
        self,
        config: BindConfig,
        carrier: str,
        listener: BindListener,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.carrier = carrier
        self.listener = listener
        self.conn: Connection | None = None
        self.rate = AdaptiveRate(config.rate, config.burst, 0.0)
        self.reconnects = 0
        self.failures = 0
        self._rng = rng or random.Random()
        self._stopping = False
        self._down_since: float | None = None
        self.reserved = 0
        self.unwritten = 0
        """PDUs the carrier accepted whose fate Redis does not have yet: they keep their
        window slots (``free_window``), so a crash never leaves more than the window of
        messages in doubt, however far the write-back lags."""
        """Window slots taken for messages not yet on the wire."""
        self.can_send = config.bind_type != "receiver"
        self.pdus_in: Counter[int] = Counter()
        """PDUs received on this bind's past connections (``pdu_counts`` adds the live one)."""
        self.pdus_out: Counter[int] = Counter()
        self.tls_refusals = 0
        """Connections dropped because the carrier's certificate was refused."""
        self._refused = False
        self._refusal_logged: str | None = None
        self._log_fields = {"carrier": carrier, "bind": config.name}
        """``extra`` of this bind's log records (fields of their JSON lines)."""

    # --- traffic -------------------------------------------------------------------------------

    def is_up(self) -> bool:
        conn = self.conn
        return conn is not None and not conn.closed and conn.session.is_bound()

    def free_window(self) -> int:
        """Window slots neither in flight nor reserved by ``take``."""
        conn = self.conn
        if conn is None or conn.closed:
            return 0
        return conn.session.window - conn.session.in_flight - self.reserved - self.unwritten

    def sendable(self) -> bool:
        """Up, bound and allowed to submit (not a receiver, not stopping)."""
        return self.can_send and not self._stopping and self.is_up()

    def room(self, now: float) -> int:
        """PDUs this bind could take now: free window and rate permitting (0 while down)."""
        if not self.sendable():
            return 0
        return min(self.free_window(), self.rate.available(now))

    def take(self, parts: int, now: float) -> None:
        """Reserve window slots and tokens for ``parts`` PDUs that ``submit`` will send."""
        self.rate.take(now, parts)
        self.reserved += parts

    def release(self, parts: int, conn: Connection | None) -> None:
        """Give back window slots ``take`` reserved on ``conn`` for PDUs that will not be
        sent (nothing to give back if the bind has reconnected since: reservations start
        afresh with each connection)."""
        if conn is not None and conn is self.conn:
            self.reserved = max(0, self.reserved - parts)

    def pdu_counts(self) -> tuple[Counter[int], Counter[int]]:
        """PDUs (received, sent) by command_id over the bind's whole life."""
        received, sent = Counter(self.pdus_in), Counter(self.pdus_out)
        conn = self.conn
        if conn is not None:
            received.update(conn.session.pdus_in)
            sent.update(conn.session.pdus_out)
        return received, sent

    def in_flight(self) -> int:
        conn = self.conn
        return 0 if conn is None else conn.session.in_flight

    def admit_delay(self, parts: int, now: float) -> float | None:
        """Seconds until ``parts`` PDUs could go (0: now); None while down or the window is full."""
        if not self.sendable() or self.free_window() < parts:
            return None
        return self.rate.delay(now, parts)

    def submit(
        self,
        pdus: Sequence[SubmitSM],
        on_done: Sequence[Callable[[Outcome], None]],
        now: float,
        bodies: Sequence[bytes],
        conn: Connection | None,
    ) -> None:
        """Send the parts of one message reserved with ``take`` on ``conn`` (the connection
        at the time), in order on this bind; ``on_done[i](outcome)`` for part i, in the
        connection's reader task. ``bodies``: every part already encoded.

        Raises:
            NotSent: the bind dropped, is unbinding, reconnected since ``take``, or has no
                window room left (an enquire_link took a slot); nothing was sent, and the
                slots stay reserved: ``release`` them.
        """
        if conn is None or conn is not self.conn or conn.closed or not conn.session.is_bound():
            raise NotSent(f"bind {self.name} is down or reconnected")
        session = conn.session
        if session.window - session.in_flight < len(pdus):
            raise NotSent(f"bind {self.name}: no window room")
        self.reserved = max(0, self.reserved - len(pdus))
        self.rate.on_wire(now, len(pdus))
        for index, pdu in enumerate(pdus):
            conn.send_now(pdu, on_done[index], now, bodies[index])

    def throttled(self, now: float) -> None:
        """The carrier answered ESME_RTHROTTLED or ESME_RMSGQFUL: slow this bind down."""
        self.rate.on_throttle(now)

    # --- lifetime ------------------------------------------------------------------------------

    def _options(self) -> LinkOptions:
        cfg = self.config
        return LinkOptions(
            window=cfg.window,
            response_timeout=cfg.response_timeout,
            enquire_link_interval=cfg.enquire_link_interval,
        )

    def _ssl_context(self) -> ssl.SSLContext | None:
        """Verifying by default, against ``tls_ca`` alone when set (else the system's CAs).
        Built per connection, so a renewed CA file is read at the next reconnect."""
        cfg = self.config
        if not cfg.tls:
            return None
        context = ssl.create_default_context(cafile=cfg.tls_ca)
        if not cfg.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _open_stream(self) -> trio.abc.Stream:
        """TCP, or TLS with the handshake done and the pin checked.

        Raises:
            TlsRefused: the certificate failed verification or matched no pin.
        """
        cfg = self.config
        context = self._ssl_context()
        tcp = await trio.open_tcp_stream(cfg.host, cfg.port)
        if context is None:
            return tcp
        tls = trio.SSLStream(tcp, context, server_hostname=cfg.tls_server_name or cfg.host)
        try:
            await tls.do_handshake()
            self._check_pin(tls)
        except trio.BrokenResourceError as exc:
            await trio.aclose_forcefully(tls)
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise TlsRefused(f"certificate verify failed: {cause.verify_message}") from None
            reason = getattr(cause, "reason", None) or cause or "connection closed"
            raise OSError(f"TLS handshake failed: {reason}") from None
        except BaseException:
            await trio.aclose_forcefully(tls)
            raise
        return tls

    def _check_pin(self, stream: trio.SSLStream[trio.SocketStream]) -> None:
        pins = self.config.tls_pin_sha256
        if not pins:
            return
        der: bytes | None = stream.getpeercert(binary_form=True)
        actual = hashlib.sha256(der).hexdigest() if der else None
        if actual not in pins:
            got = f"sha256 {actual}" if actual else "no certificate"
            raise TlsRefused(
                f"certificate pin mismatch: expected sha256 {' or '.join(pins)}, got {got}"
            )

    def backoff(self, attempt: int) -> float:
        """Jittered exponential back-off: between half and all of initial * 2**attempt."""
        cfg = self.config
        ceiling = min(cfg.reconnect_max, cfg.reconnect_initial * 2 ** min(attempt, 30))
        return float(ceiling * (0.5 + 0.5 * self._rng.random()))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the bind up until cancelled (or ``stop``)."""
        task_status.started()
        if self.config.tls and not self.config.tls_verify:
            log.warning(
                "carrier %s bind %s: tls_verify = false: the carrier's certificate is not "
                "checked, anyone on the path can read the password and the traffic",
                self.carrier,
                self.name,
                extra=self._log_fields,
            )
        attempt = 0
        while not self.stopping():
            reason = await self._session()
            if self.stopping():
                break
            self._note_down(reason)
            delay = self.backoff(attempt)
            attempt = 0 if self._was_up_long else attempt + 1
            await trio.sleep(delay)

    async def _session(self) -> str:
        cfg = self.config
        self._was_up_long = False
        self._refused = False
        try:
            with trio.fail_after(cfg.response_timeout):
                stream = await self._open_stream()
            async with open_connection(stream, Role.ESME, self._options()) as conn:
                return await self._serve(conn)
        except TlsRefused as exc:
            self._refused = True
            return str(exc)
        except (OSError, trio.TooSlowError) as exc:
            return f"connect or bind failed: {exc or type(exc).__name__}"
        except BindError as exc:
            return str(exc)
        except (ConnectionLost, ProtocolError) as exc:
            return f"connection lost: {exc}"
        finally:
            self.conn = None

    async def _serve(self, conn: Connection) -> str:
        cfg = self.config
        pdu = _BIND_PDUS[cfg.bind_type](
            system_id=cfg.system_id, password=cfg.password or "", system_type=cfg.system_type
        )
        with trio.fail_after(cfg.response_timeout):
            await conn.bind(pdu)
        started = trio.current_time()
        self.conn = conn
        self.reserved = 0
        self.rate = AdaptiveRate(cfg.rate, cfg.burst, started)
        self._note_up()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump_inbound, conn)
                await conn.wait_closed()
                nursery.cancel_scope.cancel()
        finally:
            self.conn = None
            self.pdus_in.update(conn.session.pdus_in)
            self.pdus_out.update(conn.session.pdus_out)
            self._was_up_long = trio.current_time() - started > cfg.reconnect_max
            self.listener.bind_down(self, conn.close_reason)
        return conn.close_reason or "closed"

    async def _pump_inbound(self, conn: Connection) -> None:
        """Hand inbound requests over in batches (whatever arrived together, at most
        ``INBOUND_BATCH``), a few batches at a time: a TV burst costs one Redis call per
        batch, not a task and a round trip per message. Past ``INBOUND_BATCHES`` in flight
        the connection's channel fills, its reader stops, and TCP pushes back on the carrier
        (a burst or a slow Redis never grows memory without bound)."""
        slots = trio.Semaphore(INBOUND_BATCHES)

        async def handle(batch: list[InboundRequest]) -> None:
            try:
                await self.listener.inbound_batch(self, batch)
            finally:
                slots.release()

        async with trio.open_nursery() as nursery:
            while True:
                try:
                    batch = [await conn.requests.receive()]
                except trio.EndOfChannel:
                    return
                while len(batch) < INBOUND_BATCH:
                    try:
                        batch.append(conn.requests.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await slots.acquire()
                nursery.start_soon(handle, batch)

    def _note_up(self) -> None:
        now = trio.current_time()
        if self._down_since is not None and self.failures:
            log.info(
                "bind %s up again after %d failed attempts (down %.1f s)",
                self.name,
                self.failures,
                now - self._down_since,
                extra=self._log_fields,
            )
            self.reconnects += 1
        else:
            log.info("bind %s up (%s:%d)", self.name, self.config.host, self.config.port,
                     extra=self._log_fields)  # fmt: skip
        self._down_since = None
        self.failures = 0
        self._refusal_logged = None
        self.listener.bind_up(self)

    def _note_down(self, reason: str) -> None:
        self.failures += 1
        first = self._down_since is None
        if first:
            self._down_since = trio.current_time()
        if self._refused:
            self.tls_refusals += 1
        if self._refused and reason != self._refusal_logged:
            self._refusal_logged = reason
            log.error("carrier %s bind %s: %s; reconnecting", self.carrier, self.name,
                      printable(reason, 400), extra=self._log_fields)  # fmt: skip
        elif first:
            log.warning("bind %s down: %s; reconnecting", self.name, printable(reason, 200),
                        extra=self._log_fields)  # fmt: skip
        else:
            log.debug("bind %s still down (attempt %d): %s", self.name, self.failures,
                      printable(reason, 200), extra=self._log_fields)  # fmt: skip

    def stopping(self) -> bool:
        return self._stopping

    async def stop(self, grace: float = 5.0) -> None:
        """Stop reconnecting; unbind (bounded by ``grace``) if bound."""
        self._stopping = True
        conn = self.conn
        if conn is not None and not conn.closed:
            await conn.unbind(grace)
