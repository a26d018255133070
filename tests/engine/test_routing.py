"""Number normalisation and carrier choice."""

from __future__ import annotations

import pytest

from engine.config import parse_config
from engine.lanes import classify
from engine.routing import Routing, e164_from_smpp, smpp_destination
from smpp.constants import CommandStatus, Ton
from smpp.events import ResponseReceived
from smpp.pdu import GenericNack, SubmitSM, SubmitSMResp
from smpp.transport import ConnectionLost


@pytest.mark.parametrize(
    ("address", "ton", "expected"),
    [
        ("31612345678", Ton.INTERNATIONAL, "+31612345678"),
        ("0612345678", Ton.NATIONAL, "+31612345678"),
        ("0612345678", Ton.UNKNOWN, "+31612345678"),
        ("0031612345678", Ton.UNKNOWN, "+31612345678"),
        ("+31 6 1234 5678", Ton.UNKNOWN, "+31612345678"),
        ("31612345678", Ton.UNKNOWN, "+31612345678"),
        ("Amnesty", Ton.ALPHANUMERIC, "Amnesty"),
        ("4777", Ton.UNKNOWN, "4777"),
        ("", Ton.UNKNOWN, ""),
    ],
)
def test_e164_from_smpp(address: str, ton: int, expected: str) -> None:
    assert e164_from_smpp(address, ton, "31") == expected


def test_destination_goes_out_international() -> None:
    assert smpp_destination("+31612345678") == (Ton.INTERNATIONAL, 1, "31612345678")


def test_carrier_hint_then_longest_prefix_then_default() -> None:
    config = parse_config(
        """
short_code = "4777"
[routing]
default_carrier = "kpn"
[carriers.kpn]
prefixes = ["+316"]
[[carriers.kpn.binds]]
name = "kpn-1"
system_id = "ja"
password = "pw"
[carriers.vodafone]
prefixes = ["+3165"]
[[carriers.vodafone.binds]]
name = "vf-1"
system_id = "ja"
password = "pw"
"""
    )
    routing = Routing(config)
    assert routing.carrier_for("+31651234567") == "vodafone"
    assert routing.carrier_for("+31612345678") == "kpn"
    assert routing.carrier_for("+32470000000") == "kpn"
    assert routing.carrier_for("+31651234567", hint="kpn") == "kpn"
    assert routing.carrier_for("+31651234567", hint="unknown") == "vodafone"


def response(status: int, pdu: object = None) -> ResponseReceived:
    return ResponseReceived(1, SubmitSM(), pdu or SubmitSMResp("1"), status, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (response(0), "ok"),
        (response(CommandStatus.ESME_RTHROTTLED), "throttled"),
        (response(CommandStatus.ESME_RMSGQFUL), "throttled"),
        (response(CommandStatus.ESME_RINVDSTADR), "permanent"),
        (response(CommandStatus.ESME_RSYSERR), "temporary"),
        (response(CommandStatus.ESME_RINVCMDLEN, GenericNack()), "temporary"),
        (ConnectionLost("gone"), "unknown"),
    ],
)
def test_classify_outcomes(outcome: ResponseReceived | BaseException, verdict: str) -> None:
    assert classify(outcome) == verdict
