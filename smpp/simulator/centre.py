"""The message centre's core: accept a message, then deliver its receipt and its replies.

``MessageCentre.accept`` is the hot path of every submit: one serial, one decision from the
handset model, one ledger record, and at most a few heap entries (the receipt, the replies).
Everything timed runs later from the scheduler as a small job object; when its time comes
it builds a deliver_sm and puts it in the account's outbox, from which the account's
receiver binds take as their windows allow (``delivery.Delivery`` handles the answer,
retries and give-ups).
"""

from __future__ import annotations

import re
import time
from typing import Final

import trio

from smpp.constants import DataCoding, EsmClass, MessageState, TlvTag
from smpp.pdu import DeliverSM, SubmitSM
from smpp.segment import parse_udh, split_message
from smpp.simulator.accounts import Account, Accounts
from smpp.simulator.config import AccountConfig, SimulatorConfig
from smpp.simulator.delivery import Delivery
from smpp.simulator.handsets import Handsets, Reply
from smpp.simulator.ledger import UDHI_FLAG, Kind, Ledger, number_key
from smpp.simulator.messages import MessageStore
from smpp.simulator.scheduler import Scheduler
from smpp.simulator.stats import Stats
from smpp.text import TextEncodingError, decode_text
from smpp.tlv import Tlv, find_tlv

__all__ = ["DEFAULT_ACCOUNT", "MessageCentre", "format_receipt"]

DEFAULT_ACCOUNT: Final = AccountConfig(system_id="sim", password="sim")

_WORD: Final = {
    MessageState.DELIVERED: "DELIVRD",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.REJECTED: "REJECTD",
}
# GSM MAP error codes carried in err: and network_error_code (§5.3.2.31, type 3 = GSM):
# 1 unknown subscriber, 27 absent subscriber, 11 teleservice not provisioned.
_ERROR: Final = {
    MessageState.DELIVERED: 0,
    MessageState.UNDELIVERABLE: 1,
    MessageState.EXPIRED: 27,
    MessageState.REJECTED: 11,
}
_WORD_OF: Final = {int(s): w for s, w in _WORD.items()}
_UDHI: Final = int(EsmClass.UDHI)
_DELIVERED: Final = int(MessageState.DELIVERED)
_RECEIPT_ESM: Final = int(EsmClass.SMSC_DELIVERY_RECEIPT)
_NOT_PRINTABLE: Final = re.compile("[^ -~]")


class _Dates:
    """YYMMDDhhmm of a Trio time, cached per minute (receipts need two per message)."""

    def __init__(self) -> None:
        self.offset = time.time() - trio.current_time()
        self._minute = -1
        self._text = ""

    def absolute(self, t: float) -> str:
        """SMPP absolute time (§7.1.1), UTC: YYMMDDhhmmss, tenths, "00+"."""
        wall = t + self.offset
        tenths = int(wall * 10) % 10
        return time.strftime("%y%m%d%H%M%S", time.gmtime(wall)) + f"{tenths}00+"

    def __call__(self, t: float) -> str:
        minute = int((t + self.offset) // 60)
        if minute != self._minute:
            self._minute = minute
            self._text = time.strftime("%y%m%d%H%M", time.gmtime(minute * 60))
        return self._text


# Per final state: what follows "dlvrd:" up to "submit date:", and from "stat:" to "Text:".
_DLVRD: Final = {int(s): "001" if s == MessageState.DELIVERED else "000" for s in _WORD}
_STAT: Final = {int(s): f" stat:{w} err:{_ERROR[s]:03d} Text:" for s, w in _WORD.items()}
_STATE_TLV: Final = {int(s): Tlv(TlvTag.MESSAGE_STATE, bytes((s,))) for s in _WORD}
_NETWORK_ERROR_TLV: Final = {
    int(s): Tlv(TlvTag.NETWORK_ERROR_CODE, b"\x03" + _ERROR[s].to_bytes(2, "big"))
    for s in _WORD
    if s != MessageState.DELIVERED
}


def format_receipt(message_id: str, state: int, submit_date: str, done_date: str, text: str) -> str:
    """The Appendix B receipt text, as ``smpp.receipt.format_receipt_text`` writes it."""
    return (
        f"id:{message_id} sub:001 dlvrd:{_DLVRD[state]} submit date:{submit_date}"
        f" done date:{done_date}{_STAT[state]}{text[:20]}"
    )


_previews: dict[tuple[bytes, int], str] = {}


def _preview(raw: bytes, coding: int, esm_class: int) -> str:
    """The first 20 characters of a message for the receipt's Text:, printable ASCII.

    Cached: an appeal goes to many handsets with the same text (the cache is emptied at
    1,024 entries, so unique texts cost nothing lasting).
    """
    key = (raw[:46], coding | (0x100 if esm_class & _UDHI else 0))
    text = _previews.get(key)
    if text is None:
        body = key[0]
        if esm_class & _UDHI:
            try:
                body = parse_udh(raw)[1]
            except ValueError:
                body = b""
        text = _NOT_PRINTABLE.sub("?", decode_text(body[:40], coding)[:20])
        if len(_previews) >= 1024:
            _previews.clear()
        _previews[key] = text
    return text


_KIND_NAME: Final = {kind: kind.name.lower() for kind in Kind}
_single_parts: dict[str, list[tuple[int, int, bytes]]] = {}


def _encode_mo(text: str, reference: int) -> list[tuple[int, int, bytes]]:
    """(esm_class, data_coding, short_message) of each part of an MO text.

    Texts that fit one part are cached (JA variants, keywords, STOP: a handful of texts
    sent a million times); multi-part ones depend on ``reference`` and are split each time.
    """
    cached = _single_parts.get(text)
    if cached is not None:
        return cached
    try:
        parts = split_message(text, reference=reference)
    except (ValueError, TextEncodingError):
        parts = split_message(text, reference=reference, data_coding=DataCoding.UCS2)
    encoded = [(_UDHI if p.esm_class_udhi else 0, p.data_coding, p.short_message) for p in parts]
    if len(encoded) == 1 and len(_single_parts) < 4096:
        _single_parts[text] = encoded
    return encoded


class ReceiptJob:
    """Send the receipt of one message when its final state is reached."""

    __slots__ = ("account", "centre", "message_serial", "pdu", "raw", "serial", "submitted")

    def __init__(
        self,
        centre: MessageCentre,
        account: Account,
        serial: int,
        message_serial: int,
        submitted: float,
        pdu: SubmitSM,
        raw: bytes,
    ) -> None:
        self.centre = centre
        self.account = account
        self.serial = serial
        self.message_serial = message_serial
        self.submitted = submitted
        self.pdu = pdu
        self.raw = raw

    def fire(self, now: float) -> None:
        centre = self.centre
        store = centre.store
        found = store.state(self.serial, self.account.index, now)
        if found is None or found[0] == MessageState.DELETED:
            return  # cancelled (or long forgotten)
        state = found[0]
        if centre.held_responses and self.serial in centre.held_responses:
            centre.stats.faults["early_receipt"] += 1  # its submit_sm_resp is held back
        mid = format(self.message_serial, "x")
        submit = self.pdu
        text = format_receipt(
            mid,
            state,
            centre.dates(self.submitted),
            centre.dates(now),
            _preview(self.raw, submit.data_coding, submit.esm_class),
        )
        receipted = Tlv(TlvTag.RECEIPTED_MESSAGE_ID, mid.encode() + b"\0")
        if state == _DELIVERED:
            tlvs: tuple[Tlv, ...] = (receipted, _STATE_TLV[state])
        else:
            tlvs = (receipted, _STATE_TLV[state], _NETWORK_ERROR_TLV[state])
        pdu = DeliverSM(
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=_RECEIPT_ESM,
            short_message=text.encode("ascii"),
            tlvs=tlvs,
        )
        centre.stats.receipts[_WORD_OF[state]] += 1
        self.account.outbox.put(Delivery(centre, self.account, pdu))


class ReplyJob:
    """A handset sends one mobile-originated message (one or more deliver_sm parts)."""

    __slots__ = ("account", "centre", "reply", "serial", "short_code", "ton_npi")

    def __init__(
        self,
        centre: MessageCentre,
        account: Account,
        reply: Reply,
        serial: int,
        short_code: str,
        ton_npi: tuple[int, int],
    ) -> None:
        self.centre = centre
        self.account = account
        self.reply = reply
        self.serial = serial
        self.short_code = short_code
        self.ton_npi = ton_npi

    def fire(self, now: float) -> None:
        centre = self.centre
        if self.serial and centre.store.is_cancelled(self.serial):
            return
        centre.send_mo(self.account, self.reply, self.short_code, self.ton_npi, now, self.serial)


class MessageCentre:
    """Accounts, handsets, ledger, message store and scheduler, wired together.

    Args:
        config: the whole configuration; with no accounts, ``DEFAULT_ACCOUNT`` is used.

    Must be created inside ``trio.run`` (it reads Trio's clock), and ``scheduler.run``
    must be running for anything timed to happen.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        now = trio.current_time()
        accounts = config.accounts or [DEFAULT_ACCOUNT]
        delivery = config.delivery
        self.accounts = Accounts(accounts, delivery.hold_limit, now, delivery.queue_limit)
        self.handsets = Handsets(
            config.handsets,
            config.receipts,
            seed=config.seed,
            time_compression=config.time_compression,
        )
        self.dates = _Dates()
        self.ledger = Ledger(config.ledger.max_records, clock_offset=self.dates.offset)
        self.store = MessageStore(config.message_store)
        self.scheduler = Scheduler()
        self.changed = trio.lowlevel.ParkingLot()
        """Unparked when a client binds or unbinds, a message is accepted, an MO is sent or a
        deliver_sm is answered: tests wait on it for the ledger or the stats to reach a count."""
        self.stats = Stats()
        self.held_responses: set[int] = set()
        """Serials of accepted messages whose submit_sm_resp ``response_delay`` holds back
        (a receipt that goes out meanwhile arrives before the response, as on real networks)."""
        self.receipts_enabled = config.receipts.enabled
        self._ledger_on = config.ledger.max_records > 0
        first, count = self.handsets.first, self.handsets.count

        def first_index(number: int) -> int:
            index = number - first
            return index if 0 <= index < count else -1

        self._first_index = first_index

    def accept(
        self, account: Account, pdu: SubmitSM, now: float, *, receipt_serial: int = 0
    ) -> int:
        """Take one message for one destination; returns its serial (the message id).

        ``receipt_serial`` names the message in its receipt instead of its own serial
        (submit_multi: one message id for every destination).
        """
        dest = pdu.destination_addr
        if dest.isdigit() and len(dest) < 19:
            number = int(dest)
            index = self._first_index(number)
        else:
            key = number_key(dest)
            number = key if key is not None else self.ledger.number_id(dest)
            index = -1 if key is None else self._first_index(key)
        handsets = self.handsets
        if index >= 0:
            outcome, delay, replies = handsets.receive(index)
        else:
            outcome, delay, replies = handsets.other(number, self.store.next_serial)
        done = now + delay
        serial = self.store.add(account.index, outcome, done)
        self.stats.messages += 1
        raw = pdu.short_message
        if not raw and pdu.tlvs:
            payload = find_tlv(pdu.tlvs, TlvTag.MESSAGE_PAYLOAD)
            raw = payload.value if payload is not None else b""
        if self._ledger_on:
            coding = pdu.data_coding
            if pdu.esm_class & _UDHI:
                coding |= UDHI_FLAG
            self.ledger.record_mt(now, number, outcome, serial, raw, coding)
        wanted = pdu.registered_delivery & 0x03
        if wanted and self.receipts_enabled and (wanted != 2 or outcome != _DELIVERED):
            receipt = ReceiptJob(self, account, serial, receipt_serial or serial, now, pdu, raw)
            self.scheduler.at(done, receipt)
        if replies:
            ton_npi = (pdu.source_addr_ton, pdu.source_addr_npi)
            for reply in replies:
                job = ReplyJob(self, account, reply, serial, pdu.source_addr, ton_npi)
                self.scheduler.at(now + reply.delay, job)
        if self.changed:
            self.changed.unpark_all()
        return serial

    def send_mo(
        self,
        account: Account,
        reply: Reply,
        short_code: str,
        ton_npi: tuple[int, int],
        now: float,
        serial: int = 0,
    ) -> None:
        """A handset (or a stranger) sends ``reply`` to ``short_code`` now."""
        kind = reply.kind
        index = self.handsets.index_of(reply.number)
        if kind is Kind.STOP and index >= 0:
            self.handsets.opt_out(index)
        record = self.ledger.record(now, reply.number, kind, 0, serial, reply.text)
        self.stats.replies[_KIND_NAME[kind]] += 1
        number = str(reply.number)
        for esm_class, coding, body in _encode_mo(reply.text, (serial or reply.number) & 0xFF):
            pdu = DeliverSM(
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=number,
                dest_addr_ton=ton_npi[0],
                dest_addr_npi=ton_npi[1],
                destination_addr=short_code,
                esm_class=esm_class,
                data_coding=coding,
                short_message=body,
            )
            account.outbox.put(Delivery(self, account, pdu, record))
        if self.changed:
            self.changed.unpark_all()
