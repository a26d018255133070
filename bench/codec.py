"""Codec throughput: ours against smpplib and smpp34, in the same process.

``python -m bench.codec [--quick] [--json] [--rounds N]``

Three cases, each doing the same work for every contender:

* ``encode_submit_sm``: build a submit_sm (a 160-character GSM text, registered_delivery=1,
  an alphanumeric sender and an international number) and encode it, every iteration;
* ``decode_deliver_sm_mo``: decode an MO deliver_sm ("JA") and read short_message and
  source_addr;
* ``decode_deliver_sm_receipt``: decode a delivery receipt and read short_message,
  source_addr and the receipted_message_id and message_state TLVs.

Contenders run in alternating rounds (ours, smpplib, smpp34, ours, ...); each round runs
enough iterations to last about ``target`` seconds and yields one PDU/s figure. smpp34 is a
compiled wheel that may not install everywhere: it is left out when it does not import.
Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import smpplib.smpp

from bench._report import (
    OURS,
    Stats,
    format_table,
    rate,
    ratios,
    report_object,
    run_rounds,
    summarise,
)
from smpp.codec import decode_pdu, encode_pdu
from smpp.constants import TlvTag
from smpp.pdu import DeliverSM, SubmitSM
from smpp.tlv import Tlv, find_tlv


def _optional(module: str) -> Any:
    """The module, or None where it does not install (smpp34 is a compiled wheel)."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the platform
        return None


smpp34 = _optional("smpp34")

Work = Callable[[int], object]

# GSM 03.38 default alphabet, one character per octet (data_coding 0): 160 characters.
TEXT = (
    b"URGENT: Ales Bialiatski has been jailed for his human rights work. Reply JA to add "
    b"your name to our appeal for his release. Reply STOP to opt out. Thank you all"
)
assert len(TEXT) == 160, len(TEXT)

SENDER = "Amnesty"
HANDSET = "447700900123"
SUBMIT_FIELDS: dict[str, Any] = {
    "source_addr_ton": 5,
    "source_addr_npi": 0,
    "source_addr": SENDER,
    "dest_addr_ton": 1,
    "dest_addr_npi": 1,
    "destination_addr": HANDSET,
    "registered_delivery": 1,
    "short_message": TEXT,
}

RECEIPT_TEXT = (
    b"id:7f3a9c2e sub:001 dlvrd:001 submit date:2301151230 done date:2301151231"
    b" stat:DELIVRD err:000 text:URGENT: Ales Bia"
)
MO = DeliverSM(
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr=HANDSET,
    dest_addr_ton=3,
    destination_addr="70123",
    short_message=b"JA",
)
RECEIPT = DeliverSM(
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr=HANDSET,
    dest_addr_ton=5,
    destination_addr=SENDER,
    esm_class=4,
    short_message=RECEIPT_TEXT,
    tlvs=(
        Tlv.of(TlvTag.RECEIPTED_MESSAGE_ID, "7f3a9c2e"),
        Tlv.of(TlvTag.MESSAGE_STATE, 2),
    ),
)


class _Client:
    """The sequence counter smpplib's PDUs ask their client for."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


# --- ours -------------------------------------------------------------------------------------


def ours_encode(n: int) -> None:
    for seq in range(1, n + 1):
        encode_pdu(
            SubmitSM(
                source_addr_ton=5,
                source_addr_npi=0,
                source_addr=SENDER,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=HANDSET,
                registered_delivery=1,
                short_message=TEXT,
            ),
            seq,
        )


def ours_decode_mo(raw: bytes) -> Work:
    def work(n: int) -> None:
        for _ in range(n):
            pdu = decode_pdu(raw).pdu
            pdu.short_message  # type: ignore[attr-defined]  # noqa: B018
            pdu.source_addr  # type: ignore[attr-defined]  # noqa: B018

    return work


def ours_decode_receipt(raw: bytes) -> Work:
    def work(n: int) -> None:
        for _ in range(n):
            pdu = decode_pdu(raw).pdu
            pdu.short_message  # type: ignore[attr-defined]  # noqa: B018
            pdu.source_addr  # type: ignore[attr-defined]  # noqa: B018
            message_id = find_tlv(pdu.tlvs, TlvTag.RECEIPTED_MESSAGE_ID)  # type: ignore[attr-defined]
            state = find_tlv(pdu.tlvs, TlvTag.MESSAGE_STATE)  # type: ignore[attr-defined]
            if message_id is None or state is None:
                raise AssertionError("receipt TLVs missing")
            message_id.typed()
            state.typed()

    return work


# --- smpplib ----------------------------------------------------------------------------------


def smpplib_encode(n: int) -> None:
    client = _Client()
    make_pdu = smpplib.smpp.make_pdu
    for seq in range(1, n + 1):
        pdu = make_pdu(
            "submit_sm",
            client=client,
            source_addr_ton=5,
            source_addr_npi=0,
            source_addr=SENDER,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=HANDSET,
            registered_delivery=1,
            short_message=TEXT,
        )
        pdu.sequence = seq
        pdu.generate()


def smpplib_decode_mo(raw: bytes) -> Work:
    def work(n: int) -> None:
        client = _Client()
        parse_pdu = smpplib.smpp.parse_pdu
        for _ in range(n):
            pdu = parse_pdu(raw, client=client)
            pdu.short_message  # noqa: B018
            pdu.source_addr  # noqa: B018

    return work


def smpplib_decode_receipt(raw: bytes) -> Work:
    def work(n: int) -> None:
        client = _Client()
        parse_pdu = smpplib.smpp.parse_pdu
        for _ in range(n):
            pdu = parse_pdu(raw, client=client)
            pdu.short_message  # noqa: B018
            pdu.source_addr  # noqa: B018
            pdu.receipted_message_id  # noqa: B018
            pdu.message_state  # noqa: B018

    return work


# --- smpp34 -----------------------------------------------------------------------------------


def smpp34_encode(n: int) -> None:
    submit = smpp34.SubmitSm
    for seq in range(1, n + 1):
        submit(
            SENDER,
            HANDSET,
            TEXT,
            source_addr_ton=5,
            source_addr_npi=0,
            dest_addr_ton=1,
            dest_addr_npi=1,
            registered_delivery=1,
            sequence_number=seq,
        ).encode()


def smpp34_decode_mo(raw: bytes) -> Work:
    def work(n: int) -> None:
        decode = smpp34.decode
        for _ in range(n):
            pdu = decode(raw)
            pdu.short_message  # noqa: B018
            pdu.source_addr  # noqa: B018

    return work


def smpp34_decode_receipt(raw: bytes) -> Work:
    receipted, state = smpp34.TLV_RECEIPTED_MESSAGE_ID, smpp34.TLV_MESSAGE_STATE

    def work(n: int) -> None:
        decode = smpp34.decode
        for _ in range(n):
            pdu = decode(raw)
            pdu.short_message  # noqa: B018
            pdu.source_addr  # noqa: B018
            for tlv in pdu.tlvs:
                if tlv.tag == receipted:
                    tlv.as_string()
                elif tlv.tag == state:
                    tlv.as_int()

    return work


# --- the run ----------------------------------------------------------------------------------


def check_same_work() -> None:
    """Every contender's submit_sm is the same PDU, and each reads the same receipt values."""
    expected = SubmitSM(**SUBMIT_FIELDS)
    pdu = smpplib.smpp.make_pdu("submit_sm", client=_Client(), **SUBMIT_FIELDS)
    pdu.sequence = 1
    peers = [pdu.generate()]
    if smpp34 is not None:
        positional = ("source_addr", "destination_addr", "short_message")
        keywords = {k: v for k, v in SUBMIT_FIELDS.items() if k not in positional}
        peers.append(smpp34.SubmitSm(SENDER, HANDSET, TEXT, sequence_number=1, **keywords).encode())
    for raw in peers:
        if decode_pdu(raw).pdu != expected:
            raise AssertionError(f"a peer encodes a different submit_sm: {raw.hex()}")
    parsed = smpplib.smpp.parse_pdu(encode_pdu(RECEIPT, 1), client=_Client())
    if (parsed.receipted_message_id, parsed.message_state) != (b"7f3a9c2e", 2):
        raise AssertionError("smpplib reads a different receipt")


def cases() -> dict[str, dict[str, Work]]:
    mo, receipt = encode_pdu(MO, 1), encode_pdu(RECEIPT, 2)
    out: dict[str, dict[str, Work]] = {
        "encode_submit_sm": {OURS: ours_encode, "smpplib": smpplib_encode},
        "decode_deliver_sm_mo": {OURS: ours_decode_mo(mo), "smpplib": smpplib_decode_mo(mo)},
        "decode_deliver_sm_receipt": {
            OURS: ours_decode_receipt(receipt),
            "smpplib": smpplib_decode_receipt(receipt),
        },
    }
    if smpp34 is not None:
        out["encode_submit_sm"]["smpp34"] = smpp34_encode
        out["decode_deliver_sm_mo"]["smpp34"] = smpp34_decode_mo(mo)
        out["decode_deliver_sm_receipt"]["smpp34"] = smpp34_decode_receipt(receipt)
    return out


def calibrate(work: Work, target: float) -> int:
    """Iterations that make one round of ``work`` last about ``target`` seconds."""
    n = 1
    while True:
        start = time.perf_counter()
        work(n)
        elapsed = time.perf_counter() - start
        if elapsed >= target / 10 or n >= 1 << 24:
            return max(1, int(n * target / elapsed)) if elapsed > 0 else n
        n *= 4


def measure(contenders: dict[str, Work], rounds: int, target: float) -> dict[str, Stats]:
    sizes = {name: calibrate(work, target) for name, work in contenders.items()}
    measures: dict[str, Callable[[], float]] = {
        name: functools.partial(rate, work, sizes[name]) for name, work in contenders.items()
    }
    samples = run_rounds(measures, rounds)
    return {name: summarise(values) for name, values in samples.items()}


def collect(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    """Every case, measured; the JSON object of ``--json`` (``rounds`` default 15, quick 3)."""
    rounds = rounds or (3 if quick else 15)
    target = 0.01 if quick else 0.2
    check_same_work()
    results: dict[str, dict[str, Stats]] = {}
    all_ratios: dict[str, dict[str, float]] = {}
    for case, contenders in cases().items():
        results[case] = measure(contenders, rounds, target)
        all_ratios[case] = ratios(results[case])
    obj = report_object("codec", "PDU/s", results, all_ratios)
    obj["settings"] = {"rounds": rounds, "seconds_per_round": target}
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.codec", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few rounds, for CI")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 15; quick 3)")
    args = parser.parse_args(argv)
    obj = collect(args.quick, args.rounds)
    settings = obj["settings"]
    peers = "smpplib" + (f", smpp34 {smpp34.__version__}" if smpp34 is not None else "")
    print(
        f"codec: {settings['rounds']} rounds of ~{settings['seconds_per_round']}s each; "
        f"ja-engine vs {peers}"
    )
    print(format_table(obj["results"], obj["ratios"], "PDU/s"))
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
