"""Field kinds of the SMPP wire format, as plain data.

The PDU layout table in ``smpp.pdu`` names one of these for every mandatory parameter
(SMPP 3.4 §3.1, §4). ``smpp._compile`` turns the table into straight-line encoders and
decoders; nothing here reads or writes bytes itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from smpp.constants import CommandStatus

__all__ = ["U8", "U16", "U32", "COctet", "DestAddresses", "FieldKind", "Int", "ShortMessage"]


@dataclass(frozen=True)
class Int:
    """Unsigned big-endian integer of 1, 2 or 4 octets (§3.1 "Integer")."""

    size: int

    @property
    def fmt(self) -> str:
        return {1: "B", 2: "H", 4: "I"}[self.size]


U8 = Int(1)
U16 = Int(2)
U32 = Int(4)


@dataclass(frozen=True)
class COctet:
    """NUL-terminated string of at most ``max_size`` octets, the NUL included (§3.1).

    ``status`` is what a peer gets back when its value is too long or unterminated:
    the spec has a specific code for most fields (ESME_RINVSRCADR for source_addr...).
    Values are ``str`` decoded as Latin-1, so any octet round-trips unchanged.
    """

    max_size: int
    status: CommandStatus = CommandStatus.ESME_RINVPARLEN


@dataclass(frozen=True)
class ShortMessage:
    """``sm_length`` (1 octet) followed by that many octets of ``short_message`` (§4.4.1).

    The length is derived on encode and never stored; it may not exceed 254 (§5.2.21):
    longer payloads travel in the message_payload TLV.
    """

    max_size: int = 254


@dataclass(frozen=True)
class DestAddresses:
    """submit_multi's ``number_of_dests`` then that many ``dest_address`` entries (§4.5.1.1)."""

    max_count: int = 254


@dataclass(frozen=True)
class UnsuccessSmes:
    """submit_multi_resp's ``no_unsuccess`` then that many ``unsuccess_sme`` (§4.5.2.1)."""

    max_count: int = 254


FieldKind = Int | COctet | ShortMessage | DestAddresses | UnsuccessSmes
