"""The fuzzing run (``python -m bench.fuzz``) at a small size, each defect class by hand,
and the fuzzer's own teeth: a session that answers wrongly, or crashes, is caught."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from bench import fuzz
from bench._fuzz_mutate import Seed
from bench._fuzz_spec import OK, cut, frame_status, may_issue
from smpp.codec import decode_pdu, encode_pdu
from smpp.constants import DEFAULT_MAX_PDU_SIZE, CommandId, CommandStatus
from smpp.errors import RemoteProtocolError
from smpp.events import PduRejected, RequestReceived
from smpp.pdu import (
    BindTransceiver,
    DeliverSM,
    EnquireLink,
    Pdu,
    QuerySM,
    SmeAddress,
    SubmitMulti,
    SubmitSM,
)
from smpp.session import Session
from smpp.state import Role, SessionState
from tests.smpp.helpers import SessionPair

S = CommandStatus
C = CommandId

# Every class of status a run must meet: framing and command, lengths, the optional part,
# the session state, and the mandatory fields' own statuses.
STATUS_CLASSES = {
    "command_id": {"ESME_RINVCMDID"},
    "command_length": {"ESME_RINVCMDLEN"},
    "sm_length": {"ESME_RINVMSGLEN"},
    "tlv_stream": {"ESME_RINVOPTPARSTREAM"},
    "bind_state": {"ESME_RINVBNDSTS"},
    "already_bound": {"ESME_RALYBND"},
    "field": {"ESME_RINVSRCADR", "ESME_RINVDSTADR", "ESME_RINVSYSID", "ESME_RINVSERTYP"},
    "submit_multi": {"ESME_RINVDESTFLAG", "ESME_RINVDLNAME", "ESME_RINVNUMDESTS"},
}


@pytest.fixture(scope="module")
def corpus() -> list[Seed]:
    return fuzz.build_corpus(seed=3, per_class=5)


@pytest.mark.slow
def test_a_small_run_raises_nothing_answers_right_and_meets_every_status() -> None:
    result = fuzz.run(20_000, seed=1, workers=1, per_class=10)
    assert result["pdus"] == 20_000
    assert result["unexpected_exceptions"] == 0, result["findings"]
    assert result["wrong_answers"] == 0, result["findings"]
    assert result["fatal_framing"] > 0
    assert result["valid_decoded"] > 0
    seen = set(result["rejected_by_status"])
    for name, statuses in STATUS_CLASSES.items():
        assert seen & statuses, f"no {name} status in {sorted(seen)}"
    for event in ("RequestReceived", "ResponseReceived", "UnexpectedResponse", "PduRejected"):
        assert result["events"][event] > 0, event


@pytest.mark.slow
def test_workers_do_not_change_the_result() -> None:
    one = fuzz.run(3_000, seed=2, workers=1, per_class=3, task_size=1_000)
    two = fuzz.run(3_000, seed=2, workers=2, per_class=3, task_size=1_000)
    for key in ("wall_s", "pdus_per_s", "workers"):
        del one[key], two[key]
    assert one == two


def test_main_writes_json_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fuzz.json"
    argv = ["--pdus", "500", "--workers", "1", "--corpus-per-class", "2", "--json", str(path)]
    assert fuzz.main(argv) == 0
    result = json.loads(path.read_text())
    assert result["pdus"] == 500
    assert result["unexpected_exceptions"] == 0
    assert capsys.readouterr().out.startswith("fuzz: 500 PDUs in ")


# --- the fuzzer's teeth ------------------------------------------------------------------------


def test_a_wrong_status_is_a_finding(corpus: list[Seed], monkeypatch: pytest.MonkeyPatch) -> None:
    real = Session.reject

    def sloppy(self: Session, event: PduRejected) -> bytes:
        return real(self, PduRejected(event.command_id, event.sequence_number, S.ESME_RSYSERR, ""))

    monkeypatch.setattr(Session, "reject", sloppy)
    tally = fuzz.Fuzzer(corpus, seed=5).run(300)
    assert tally.wrong_answers > 0
    assert tally.unexpected_exceptions == 0
    assert "ESME_RSYSERR" in tally.findings[0]["detail"]


def test_an_exception_is_a_finding_with_its_input(
    corpus: list[Seed], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Session, event: PduRejected) -> bytes:
        raise KeyError(event.command_id)

    monkeypatch.setattr(Session, "reject", broken)
    tally = fuzz.Fuzzer(corpus, seed=5).run(300)
    assert tally.unexpected_exceptions > 0
    finding = tally.findings[0]
    assert finding["kind"] == "exception"
    assert finding["detail"].startswith("KeyError")
    assert bytes.fromhex(finding["input_hex"])


# --- each defect class, by hand ----------------------------------------------------------------


def _fix_length(raw: bytes | bytearray) -> bytes:
    return struct.pack(">I", len(raw)) + bytes(raw[4:])


def _submit(**fields: Any) -> bytearray:
    return bytearray(encode_pdu(SubmitSM(**fields), 9))


def _sm_length(value: int) -> bytes:
    raw = _submit(short_message=b"hello")
    raw[raw.index(b"hello") - 1] = value
    return bytes(raw)


def _long_source() -> bytes:
    raw = _submit(source_addr="1" * 20)  # the maximum: 20 octets and the NUL
    at = raw.index(b"1" * 20)
    return _fix_length(raw[:at] + b"1" + raw[at:])


def _dests(flag: int | None = None, count: int | None = None) -> bytes:
    raw = bytearray(encode_pdu(SubmitMulti(dest_addresses=(SmeAddress(1, 1, "4477"),)), 9))
    at = raw.index(b"\x01\x01\x01\x014477")  # number_of_dests, dest_flag, ton, npi
    if count is not None:
        raw[at] = count
    if flag is not None:
        raw[at + 1] = flag
    return bytes(raw)


DEFECTS = [
    ("unknown command_id", struct.pack(">IIII", 16, 0x77, 0, 9), C.GENERIC_NACK, S.ESME_RINVCMDID),
    (
        "unknown command_id, response bit",
        struct.pack(">IIII", 16, 0x80000077, 0, 9),
        C.GENERIC_NACK,
        S.ESME_RINVCMDID,
    ),
    ("body ends inside a field", _fix_length(_submit()[:26]), C.SUBMIT_SM_RESP, S.ESME_RINVCMDLEN),
    (
        "octets after a body without TLVs",
        _fix_length(encode_pdu(EnquireLink(), 9) + b"\0"),
        C.ENQUIRE_LINK_RESP,
        S.ESME_RINVCMDLEN,
    ),
    (
        "C-octet string cut by the end of the body",
        _fix_length(encode_pdu(QuerySM(message_id="12"), 9)[:18]),
        C.QUERY_SM_RESP,
        S.ESME_RINVCMDLEN,
    ),
    ("sm_length past the end", _sm_length(200), C.SUBMIT_SM_RESP, S.ESME_RINVMSGLEN),
    (
        "sm_length 255",
        _fix_length(_sm_length(255) + b"x" * 250),
        C.SUBMIT_SM_RESP,
        S.ESME_RINVMSGLEN,
    ),
    ("source_addr over 20 octets", _long_source(), C.SUBMIT_SM_RESP, S.ESME_RINVSRCADR),
    (
        "TLV value past the end",
        _fix_length(_submit() + b"\x04\x24\x00\x0a" + b"ab"),
        C.SUBMIT_SM_RESP,
        S.ESME_RINVOPTPARSTREAM,
    ),
    (
        "TLV header cut",
        _fix_length(_submit() + b"\x04\x24"),
        C.SUBMIT_SM_RESP,
        S.ESME_RINVOPTPARSTREAM,
    ),
    ("dest_flag 3", _dests(flag=3), C.SUBMIT_MULTI_RESP, S.ESME_RINVDESTFLAG),
    ("number_of_dests 255", _dests(count=255), C.SUBMIT_MULTI_RESP, S.ESME_RINVNUMDESTS),
]


@pytest.mark.parametrize(
    ("raw", "answer_id", "status"),
    [pytest.param(raw, answer, status, id=name) for name, raw, answer, status in DEFECTS],
)
def test_a_bad_body_gets_the_spec_status(raw: bytes, answer_id: int, status: int) -> None:
    assert frame_status(raw, 0, len(raw)) == (status, None)
    _assert_answer(raw, answer_id, status)


@pytest.mark.parametrize(
    ("pdu", "answer_id", "status"),
    [
        pytest.param(DeliverSM(), C.DELIVER_SM_RESP, S.ESME_RINVBNDSTS, id="deliver_sm-from-esme"),
        pytest.param(BindTransceiver(), C.BIND_TRANSCEIVER_RESP, S.ESME_RALYBND, id="second-bind"),
    ],
)
def test_a_request_out_of_state_gets_the_spec_status(pdu: Pdu, answer_id: int, status: int) -> None:
    raw = encode_pdu(pdu, 9)
    assert frame_status(raw, 0, len(raw)) == (OK, None)
    assert not may_issue(Role.ESME, SessionState.BOUND_TRX, pdu.command_id)
    _assert_answer(raw, answer_id, status)


def _assert_answer(raw: bytes, answer_id: int, status: int) -> None:
    """An MC bound as transceiver answers ``raw`` with (answer_id, status), and carries on."""
    pair = SessionPair()
    pair.bind()
    event, carried_on = pair.deliver(pair.mc, raw + encode_pdu(EnquireLink(), 10))
    assert isinstance(event, PduRejected)
    assert isinstance(carried_on, RequestReceived)
    answer = decode_pdu(pair.mc.reject(event))
    assert (answer.command_id, answer.command_status, answer.sequence_number) == (
        answer_id,
        status,
        9,
    )
    assert pair.mc.state is SessionState.BOUND_TRX


@pytest.mark.parametrize("length", [0, 15, DEFAULT_MAX_PDU_SIZE + 1, 0xFFFFFFFF])
def test_a_bad_command_length_is_fatal_rinvcmdlen(length: int) -> None:
    raw = struct.pack(">IIII", length, C.ENQUIRE_LINK, 0, 9)
    assert cut(raw, DEFAULT_MAX_PDU_SIZE).fatal_at == 0
    session = Session(Role.MC)
    session.receive_data(raw)
    with pytest.raises(RemoteProtocolError) as info:
        session.next_event()
    assert info.value.fatal
    assert info.value.command_status_hint == S.ESME_RINVCMDLEN
