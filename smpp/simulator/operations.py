"""The message operations besides submit_sm, as functions of (centre, account, pdu, now).

Each returns the answer as (response PDU or None, command_status); the link sends it. They
run on the slower path (data_sm, submit_multi, query_sm, cancel_sm are rare next to
submit_sm), so they favour clarity over speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smpp.constants import CommandStatus, MessageState
from smpp.pdu import (
    CancelSM,
    CancelSMResp,
    DataSM,
    DataSMResp,
    DistributionList,
    Pdu,
    QuerySM,
    QuerySMResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSM,
    UnsuccessSme,
)
from smpp.simulator.ledger import Kind, number_key
from smpp.simulator.messages import parse_message_id

if TYPE_CHECKING:
    from smpp.simulator.accounts import Account
    from smpp.simulator.centre import MessageCentre

__all__ = ["Answer", "cancel", "data_sm", "query", "submit_multi"]

Answer = tuple[Pdu | None, int]
_E = CommandStatus


def data_sm(centre: MessageCentre, account: Account, pdu: DataSM, now: float) -> Answer:
    """A data_sm is a submit whose text is in message_payload."""
    submit = SubmitSM(
        source_addr_ton=pdu.source_addr_ton,
        source_addr_npi=pdu.source_addr_npi,
        source_addr=pdu.source_addr,
        dest_addr_ton=pdu.dest_addr_ton,
        dest_addr_npi=pdu.dest_addr_npi,
        destination_addr=pdu.destination_addr,
        esm_class=pdu.esm_class,
        registered_delivery=pdu.registered_delivery,
        data_coding=pdu.data_coding,
        tlvs=pdu.tlvs,
    )
    serial = centre.accept(account, submit, now)
    return DataSMResp(message_id=format(serial, "x")), 0


def submit_multi(centre: MessageCentre, account: Account, pdu: SubmitMulti, now: float) -> Answer:
    """One message id for every destination; the ones we cannot take in unsuccess_smes."""
    first = 0
    failed: list[UnsuccessSme] = []
    for dest in pdu.dest_addresses:
        if isinstance(dest, DistributionList):
            failed.append(UnsuccessSme(0, 0, dest.dl_name, _E.ESME_RINVDLNAME))
            continue
        if number_key(dest.destination_addr) is None:
            failed.append(
                UnsuccessSme(
                    dest.dest_addr_ton,
                    dest.dest_addr_npi,
                    dest.destination_addr,
                    _E.ESME_RINVDSTADR,
                )
            )
            continue
        submit = SubmitSM(
            source_addr_ton=pdu.source_addr_ton,
            source_addr_npi=pdu.source_addr_npi,
            source_addr=pdu.source_addr,
            dest_addr_ton=dest.dest_addr_ton,
            dest_addr_npi=dest.dest_addr_npi,
            destination_addr=dest.destination_addr,
            esm_class=pdu.esm_class,
            registered_delivery=pdu.registered_delivery,
            data_coding=pdu.data_coding,
            short_message=pdu.short_message,
            tlvs=pdu.tlvs,
        )
        serial = centre.accept(account, submit, now, receipt_serial=first)
        first = first or serial
    resp = SubmitMultiResp(
        message_id=format(first, "x") if first else "", unsuccess_smes=tuple(failed)
    )
    return resp, 0 if first else _E.ESME_RINVDSTADR


def query(centre: MessageCentre, account: Account, pdu: QuerySM, now: float) -> Answer:
    """The state of one of this account's messages (ESME_RQUERYFAIL if unknown)."""
    serial = parse_message_id(pdu.message_id)
    found = None if serial is None else centre.store.state(serial, account.index, now)
    if found is None:
        return None, _E.ESME_RQUERYFAIL
    state, done = found
    final = "" if state == MessageState.ENROUTE else centre.dates.absolute(done)
    return QuerySMResp(message_id=pdu.message_id, final_date=final, message_state=state), 0


def cancel(centre: MessageCentre, account: Account, pdu: CancelSM, now: float) -> Answer:
    """Cancel a message still en route (ESME_RCANCELFAIL otherwise); no receipt follows."""
    serial = parse_message_id(pdu.message_id)
    if serial is None or not centre.store.cancel(serial, account.index, now):
        return None, _E.ESME_RCANCELFAIL
    number = centre.ledger.number_id(pdu.destination_addr)
    centre.ledger.record(now, number, Kind.CANCELLED, MessageState.DELETED, serial, "")
    return CancelSMResp(), 0
