"""Every SMPP 3.4 PDU, declared once as data.

Each PDU is a frozen msgspec Struct with the spec's field names; its wire layout is one row of
``FIELDS`` (SMPP 3.4 §4), read by the generated encoders and decoders in ``smpp._compile``.
Length fields (``sm_length``, ``number_of_dests``, ``no_unsuccess``) are derived, never stored.
The header (command_length, command_id, command_status, sequence_number) is not part of a PDU:
see ``smpp.codec.Frame``.
"""

from __future__ import annotations

from typing import ClassVar, Final

import msgspec

from smpp._wire import U8, COctet, DestAddresses, FieldKind, ShortMessage, UnsuccessSmes
from smpp.constants import INTERFACE_VERSION, CommandId
from smpp.constants import CommandStatus as S
from smpp.tlv import Tlv

__all__ = [
    "FIELDS",
    "PDU_CLASSES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSM",
    "CancelSMResp",
    "DataSM",
    "DataSMResp",
    "DeliverSM",
    "DeliverSMResp",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Pdu",
    "QuerySM",
    "QuerySMResp",
    "ReplaceSM",
    "ReplaceSMResp",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSM",
    "SubmitSMResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
]


class Pdu(msgspec.Struct, frozen=True, gc=False):
    """Base of every PDU. ``command_id`` is a class attribute, not a field."""

    command_id: ClassVar[CommandId]


class _Bind(Pdu, frozen=True, gc=False):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


class BindTransmitter(_Bind, frozen=True, gc=False):
    """§4.1.1"""

    command_id = CommandId.BIND_TRANSMITTER


class BindReceiver(_Bind, frozen=True, gc=False):
    """§4.1.3"""

    command_id = CommandId.BIND_RECEIVER


class BindTransceiver(_Bind, frozen=True, gc=False):
    """§4.1.5"""

    command_id = CommandId.BIND_TRANSCEIVER


class _BindResp(Pdu, frozen=True, gc=False):
    system_id: str = ""
    tlvs: tuple[Tlv, ...] = ()


class BindTransmitterResp(_BindResp, frozen=True, gc=False):
    """§4.1.2"""

    command_id = CommandId.BIND_TRANSMITTER_RESP


class BindReceiverResp(_BindResp, frozen=True, gc=False):
    """§4.1.4"""

    command_id = CommandId.BIND_RECEIVER_RESP


class BindTransceiverResp(_BindResp, frozen=True, gc=False):
    """§4.1.6"""

    command_id = CommandId.BIND_TRANSCEIVER_RESP


class Outbind(Pdu, frozen=True, gc=False):
    """§4.1.7: the MC asks the ESME to bind as a receiver."""

    command_id = CommandId.OUTBIND
    system_id: str = ""
    password: str = ""


class Unbind(Pdu, frozen=True, gc=False):
    """§4.2.1"""

    command_id = CommandId.UNBIND


class UnbindResp(Pdu, frozen=True, gc=False):
    """§4.2.2"""

    command_id = CommandId.UNBIND_RESP


class GenericNack(Pdu, frozen=True, gc=False):
    """§4.3.1: the answer to a PDU whose header was readable but which we could not take."""

    command_id = CommandId.GENERIC_NACK


class EnquireLink(Pdu, frozen=True, gc=False):
    """§4.11.1"""

    command_id = CommandId.ENQUIRE_LINK


class EnquireLinkResp(Pdu, frozen=True, gc=False):
    """§4.11.2"""

    command_id = CommandId.ENQUIRE_LINK_RESP


class _ShortMessagePdu(Pdu, frozen=True, gc=False):
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


class SubmitSM(_ShortMessagePdu, frozen=True, gc=False):
    """§4.4.1: a mobile-terminated message from the ESME."""

    command_id = CommandId.SUBMIT_SM


class DeliverSM(_ShortMessagePdu, frozen=True, gc=False):
    """§4.6.1: a mobile-originated message or a delivery receipt from the MC."""

    command_id = CommandId.DELIVER_SM


class _MessageIdResp(Pdu, frozen=True, gc=False):
    message_id: str = ""
    tlvs: tuple[Tlv, ...] = ()


class SubmitSMResp(_MessageIdResp, frozen=True, gc=False):
    """§4.4.2"""

    command_id = CommandId.SUBMIT_SM_RESP


class DeliverSMResp(_MessageIdResp, frozen=True, gc=False):
    """§4.6.2: message_id is unused and set to NULL."""

    command_id = CommandId.DELIVER_SM_RESP


class DataSMResp(_MessageIdResp, frozen=True, gc=False):
    """§4.7.2"""

    command_id = CommandId.DATA_SM_RESP


class DataSM(Pdu, frozen=True, gc=False):
    """§4.7.1: a message in either direction, the payload in TLVs."""

    command_id = CommandId.DATA_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: tuple[Tlv, ...] = ()


class QuerySM(Pdu, frozen=True, gc=False):
    """§4.8.1"""

    command_id = CommandId.QUERY_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


class QuerySMResp(Pdu, frozen=True, gc=False):
    """§4.8.2"""

    command_id = CommandId.QUERY_SM_RESP
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0
    tlvs: tuple[Tlv, ...] = ()


class CancelSM(Pdu, frozen=True, gc=False):
    """§4.9.1"""

    command_id = CommandId.CANCEL_SM
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


class CancelSMResp(Pdu, frozen=True, gc=False):
    """§4.9.2"""

    command_id = CommandId.CANCEL_SM_RESP


class ReplaceSM(Pdu, frozen=True, gc=False):
    """§4.10.1"""

    command_id = CommandId.REPLACE_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


class ReplaceSMResp(Pdu, frozen=True, gc=False):
    """§4.10.2"""

    command_id = CommandId.REPLACE_SM_RESP


class SmeAddress(msgspec.Struct, frozen=True, gc=False):
    """A submit_multi destination that is an SME address (dest_flag 1, §4.5.1.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


class DistributionList(msgspec.Struct, frozen=True, gc=False):
    """A submit_multi destination that is a distribution list name (dest_flag 2, §4.5.1.1)."""

    dl_name: str = ""


class UnsuccessSme(msgspec.Struct, frozen=True, gc=False):
    """A destination that submit_multi could not reach (§4.5.2.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


class SubmitMulti(Pdu, frozen=True, gc=False):
    """§4.5.1: one message to up to 254 destinations."""

    command_id = CommandId.SUBMIT_MULTI
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[SmeAddress | DistributionList, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


class SubmitMultiResp(Pdu, frozen=True, gc=False):
    """§4.5.2"""

    command_id = CommandId.SUBMIT_MULTI_RESP
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()
    tlvs: tuple[Tlv, ...] = ()


class AlertNotification(Pdu, frozen=True, gc=False):
    """§4.12.1: the MC tells the ESME that a handset became available. Never answered."""

    command_id = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


# --- The layout table: one row per command id, fields in wire order (§4). ---------------------

_SYSTEM_ID = COctet(16, S.ESME_RINVSYSID)
_PASSWORD = COctet(9, S.ESME_RINVPASWD)
_SYSTEM_TYPE = COctet(13, S.ESME_RINVSYSTYP)
_SERVICE_TYPE = COctet(6, S.ESME_RINVSERTYP)
_SRC21 = COctet(21, S.ESME_RINVSRCADR)
_DST21 = COctet(21, S.ESME_RINVDSTADR)
_SRC65 = COctet(65, S.ESME_RINVSRCADR)
_DST65 = COctet(65, S.ESME_RINVDSTADR)
_MESSAGE_ID = COctet(65, S.ESME_RINVMSGID)
_SCHEDULE = COctet(17, S.ESME_RINVSCHED)
_VALIDITY = COctet(17, S.ESME_RINVEXPIRY)
_TIME = COctet(17, S.ESME_RINVPARLEN)

Layout = tuple[tuple[str, FieldKind], ...]

_BIND: Layout = (
    ("system_id", _SYSTEM_ID),
    ("password", _PASSWORD),
    ("system_type", _SYSTEM_TYPE),
    ("interface_version", U8),
    ("addr_ton", U8),
    ("addr_npi", U8),
    ("address_range", COctet(41, S.ESME_RINVPARLEN)),
)
_SHORT_MESSAGE: Layout = (
    ("service_type", _SERVICE_TYPE),
    ("source_addr_ton", U8),
    ("source_addr_npi", U8),
    ("source_addr", _SRC21),
    ("dest_addr_ton", U8),
    ("dest_addr_npi", U8),
    ("destination_addr", _DST21),
    ("esm_class", U8),
    ("protocol_id", U8),
    ("priority_flag", U8),
    ("schedule_delivery_time", _SCHEDULE),
    ("validity_period", _VALIDITY),
    ("registered_delivery", U8),
    ("replace_if_present_flag", U8),
    ("data_coding", U8),
    ("sm_default_msg_id", U8),
    ("short_message", ShortMessage()),
)
_MESSAGE_ID_ONLY: Layout = (("message_id", _MESSAGE_ID),)

FIELDS: Final[dict[CommandId, Layout]] = {
    CommandId.BIND_TRANSMITTER: _BIND,
    CommandId.BIND_RECEIVER: _BIND,
    CommandId.BIND_TRANSCEIVER: _BIND,
    CommandId.BIND_TRANSMITTER_RESP: (("system_id", _SYSTEM_ID),),
    CommandId.BIND_RECEIVER_RESP: (("system_id", _SYSTEM_ID),),
    CommandId.BIND_TRANSCEIVER_RESP: (("system_id", _SYSTEM_ID),),
    CommandId.OUTBIND: (("system_id", _SYSTEM_ID), ("password", _PASSWORD)),
    CommandId.UNBIND: (),
    CommandId.UNBIND_RESP: (),
    CommandId.GENERIC_NACK: (),
    CommandId.ENQUIRE_LINK: (),
    CommandId.ENQUIRE_LINK_RESP: (),
    CommandId.SUBMIT_SM: _SHORT_MESSAGE,
    CommandId.DELIVER_SM: _SHORT_MESSAGE,
    CommandId.SUBMIT_SM_RESP: _MESSAGE_ID_ONLY,
    CommandId.DELIVER_SM_RESP: _MESSAGE_ID_ONLY,
    CommandId.DATA_SM_RESP: _MESSAGE_ID_ONLY,
    CommandId.DATA_SM: (
        ("service_type", _SERVICE_TYPE),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", _SRC65),
        ("dest_addr_ton", U8),
        ("dest_addr_npi", U8),
        ("destination_addr", _DST65),
        ("esm_class", U8),
        ("registered_delivery", U8),
        ("data_coding", U8),
    ),
    CommandId.QUERY_SM: (
        ("message_id", _MESSAGE_ID),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", _SRC21),
    ),
    CommandId.QUERY_SM_RESP: (
        ("message_id", _MESSAGE_ID),
        ("final_date", _TIME),
        ("message_state", U8),
        ("error_code", U8),
    ),
    CommandId.CANCEL_SM: (
        ("service_type", _SERVICE_TYPE),
        ("message_id", _MESSAGE_ID),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", _SRC21),
        ("dest_addr_ton", U8),
        ("dest_addr_npi", U8),
        ("destination_addr", _DST21),
    ),
    CommandId.CANCEL_SM_RESP: (),
    CommandId.REPLACE_SM: (
        ("message_id", _MESSAGE_ID),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", _SRC21),
        ("schedule_delivery_time", _SCHEDULE),
        ("validity_period", _VALIDITY),
        ("registered_delivery", U8),
        ("sm_default_msg_id", U8),
        ("short_message", ShortMessage()),
    ),
    CommandId.REPLACE_SM_RESP: (),
    CommandId.SUBMIT_MULTI: (
        ("service_type", _SERVICE_TYPE),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", _SRC21),
        ("dest_addresses", DestAddresses()),
        ("esm_class", U8),
        ("protocol_id", U8),
        ("priority_flag", U8),
        ("schedule_delivery_time", _SCHEDULE),
        ("validity_period", _VALIDITY),
        ("registered_delivery", U8),
        ("replace_if_present_flag", U8),
        ("data_coding", U8),
        ("sm_default_msg_id", U8),
        ("short_message", ShortMessage()),
    ),
    CommandId.SUBMIT_MULTI_RESP: (
        ("message_id", _MESSAGE_ID),
        ("unsuccess_smes", UnsuccessSmes()),
    ),
    CommandId.ALERT_NOTIFICATION: (
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", _SRC65),
        ("esme_addr_ton", U8),
        ("esme_addr_npi", U8),
        ("esme_addr", _DST65),
    ),
}

PDU_CLASSES: Final[dict[CommandId, type[Pdu]]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindReceiver,
        BindTransceiver,
        BindTransmitterResp,
        BindReceiverResp,
        BindTransceiverResp,
        Outbind,
        Unbind,
        UnbindResp,
        GenericNack,
        EnquireLink,
        EnquireLinkResp,
        SubmitSM,
        SubmitSMResp,
        DeliverSM,
        DeliverSMResp,
        DataSM,
        DataSMResp,
        QuerySM,
        QuerySMResp,
        CancelSM,
        CancelSMResp,
        ReplaceSM,
        ReplaceSMResp,
        SubmitMulti,
        SubmitMultiResp,
        AlertNotification,
    )
}
