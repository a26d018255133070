"""The campaign template gives the very bytes the field-by-field encoder gives."""

import pytest
from hypothesis import given

from smpp.codec import decode_pdu, encode_pdu
from smpp.constants import HEADER_SIZE, CommandStatus
from smpp.errors import LocalProtocolError
from smpp.pdu import SubmitSM
from smpp.session import Session
from smpp.state import Role, SessionState
from smpp.template import SubmitTemplate
from tests.smpp.strategies import c_octet, submit_sm, uint


@given(submit_sm, uint(1), uint(1), c_octet(21))
def test_body_is_what_the_encoder_gives(pdu: SubmitSM, ton: int, npi: int, dest: str) -> None:
    built, body = SubmitTemplate(pdu).build(ton, npi, dest)
    assert built.dest_addr_ton == ton
    assert built.dest_addr_npi == npi
    assert built.destination_addr == dest
    assert body == encode_pdu(built, 7)[HEADER_SIZE:]
    assert decode_pdu(encode_pdu(built, 7)).pdu == built


def test_one_template_many_destinations() -> None:
    template = SubmitTemplate(SubmitSM(source_addr="4777", short_message=b"Free Ali now"))
    for n in range(10):
        pdu, body = template.build(1, 1, f"3161234{n:04d}")
        assert pdu.source_addr == "4777"
        assert body == encode_pdu(pdu, 1)[HEADER_SIZE:]


@pytest.mark.parametrize(
    ("ton", "npi", "destination"),
    [(1, 1, "3" * 21), (1, 1, "316\x001"), (1, 1, "31€"), (256, 1, "316"), (1, -1, "316")],
)
def test_an_address_that_does_not_fit_is_refused(ton: int, npi: int, destination: str) -> None:
    template = SubmitTemplate(SubmitSM(source_addr="4777"))
    with pytest.raises(LocalProtocolError) as caught:
        template.build(ton, npi, destination)
    assert caught.value.command_status_hint == CommandStatus.ESME_RINVDSTADR


def test_session_sends_a_template_body_under_its_own_header() -> None:
    session = Session(Role.ESME)
    session._set_state(SessionState.BOUND_TX)
    pdu, body = SubmitTemplate(SubmitSM(source_addr="4777", short_message=b"hi")).build(
        1, 1, "31612345678"
    )
    data = session.send(pdu, 1.0, body)
    assert data == encode_pdu(pdu, 1)
    assert session.in_flight == 1
