"""Hypothesis strategies for every SMPP PDU, with every field inside its wire limits.

The strategies are read off the layout table (``smpp.pdu.FIELDS``), so a PDU added to the
table gets a strategy with no change here: C-octet strings are Latin-1 text without NUL,
shorter than the field's max_size; integers fit their width; short_message is at most 254
octets; TLVs have any tag and a short value. Other test modules import these::

    from tests.smpp.strategies import any_pdu, pdus, submit_sm
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from hypothesis import strategies as st

from smpp._wire import COctet, DestAddresses, FieldKind, Int, ShortMessage, UnsuccessSmes
from smpp.constants import MAX_SEQUENCE, CommandStatus
from smpp.pdu import (
    FIELDS,
    PDU_CLASSES,
    DeliverSM,
    DistributionList,
    Pdu,
    SmeAddress,
    SubmitMulti,
    SubmitSM,
    UnsuccessSme,
)
from smpp.tlv import TLV_TYPES, Tlv

__all__ = [
    "ALL_CLASSES",
    "any_pdu",
    "c_octet",
    "command_statuses",
    "deliver_sm",
    "dest_addresses",
    "pdus",
    "sequence_numbers",
    "submit_multi",
    "submit_sm",
    "tlvs",
    "uint",
    "unsuccess_smes",
]

P = TypeVar("P", bound=Pdu)

ALL_CLASSES: Final[list[type[Pdu]]] = list(PDU_CLASSES.values())

# Keep values short: long ones only slow the tests, the limits are tested by hand.
_MAX_TLV_VALUE = 24
_MAX_LIST = 6


def uint(size: int) -> st.SearchStrategy[int]:
    """An unsigned integer of ``size`` octets."""
    return st.integers(0, (1 << (8 * size)) - 1)


def c_octet(max_size: int) -> st.SearchStrategy[str]:
    """A C-octet string's value: Latin-1, no NUL, at most ``max_size - 1`` characters."""
    return st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=max_size - 1)


def _known_tlv() -> st.SearchStrategy[Tlv]:
    """A standard tag with a value of the spec's length (§5.3.2)."""

    def value_for(tag: int) -> st.SearchStrategy[Tlv]:
        _, low, high = TLV_TYPES[tag]
        return st.binary(min_size=low, max_size=min(high, _MAX_TLV_VALUE)).map(
            lambda v: Tlv(tag, v)
        )

    return st.sampled_from(sorted(TLV_TYPES)).flatmap(value_for)


_any_tlv = st.builds(Tlv, uint(2), st.binary(max_size=_MAX_TLV_VALUE))

tlvs: st.SearchStrategy[tuple[Tlv, ...]] = st.lists(
    st.one_of(_known_tlv(), _any_tlv), max_size=4
).map(tuple)
"""A TLV tuple: standard tags with well-formed values, and arbitrary (vendor) ones."""

_sme_address = st.builds(SmeAddress, uint(1), uint(1), c_octet(21))
_distribution_list = st.builds(DistributionList, c_octet(21))

dest_addresses: st.SearchStrategy[tuple[SmeAddress | DistributionList, ...]] = st.lists(
    st.one_of(_sme_address, _distribution_list), max_size=_MAX_LIST
).map(tuple)

unsuccess_smes: st.SearchStrategy[tuple[UnsuccessSme, ...]] = st.lists(
    st.builds(UnsuccessSme, uint(1), uint(1), c_octet(21), uint(4)), max_size=_MAX_LIST
).map(tuple)

sequence_numbers = st.integers(1, MAX_SEQUENCE)
command_statuses = st.one_of(st.sampled_from(list(CommandStatus)), uint(4))


def _field(kind: FieldKind) -> st.SearchStrategy[Any]:
    if isinstance(kind, Int):
        return uint(kind.size)
    if isinstance(kind, COctet):
        return c_octet(kind.max_size)
    if isinstance(kind, ShortMessage):
        return st.binary(max_size=kind.max_size)
    if isinstance(kind, DestAddresses):
        return dest_addresses
    if isinstance(kind, UnsuccessSmes):
        return unsuccess_smes
    raise TypeError(f"no strategy for field kind {kind!r}")


def pdus(cls: type[P]) -> st.SearchStrategy[P]:
    """Instances of ``cls`` with every field drawn within its wire limits."""
    fields = {name: _field(kind) for name, kind in FIELDS[cls.command_id]}
    if "tlvs" in cls.__struct_fields__:
        fields["tlvs"] = tlvs
    return st.builds(cls, **fields)


any_pdu: st.SearchStrategy[Pdu] = st.one_of([pdus(cls) for cls in ALL_CLASSES])
submit_sm = pdus(SubmitSM)
deliver_sm = pdus(DeliverSM)
submit_multi = pdus(SubmitMulti)
