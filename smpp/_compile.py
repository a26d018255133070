"""Turn the PDU layout table into straight-line encoders and decoders.

Why generate code: an interpreter loop over ``FIELDS`` costs a dispatch per field, which
made the codec several times slower than hand-written ``struct`` code. Generating one
function per command id from the same table keeps the spec in one place (``smpp.pdu.FIELDS``)
and runs as fast as hand-written code. ``source(command_id)`` shows what was generated.

Decoders take ``(data, pos, end)`` and bounds-check every read against ``end``; every
failure is a ``RemoteProtocolError`` carrying the command_status the peer should get.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from smpp._wire import COctet, DestAddresses, Int, ShortMessage, UnsuccessSmes
from smpp.constants import CommandId, CommandStatus
from smpp.errors import LocalProtocolError, RemoteProtocolError
from smpp.pdu import FIELDS, PDU_CLASSES, DistributionList, Pdu, SmeAddress, UnsuccessSme
from smpp.tlv import decode_tlvs, encode_tlvs

Decoder = Callable[[bytes, int, int], Pdu]
Encoder = Callable[[Pdu], bytes]

_SOURCES: dict[CommandId, str] = {}


def _short(field: str, need: int, have: int) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"body ends inside {field}: need {need} more octets, {have} left",
        CommandStatus.ESME_RINVCMDLEN,
    )


def _bad_cstr(field: str, spec: COctet, data: bytes, pos: int, end: int) -> RemoteProtocolError:
    if end - pos < spec.max_size:
        return RemoteProtocolError(
            f"{field}: no NUL terminator before the end of the body",
            CommandStatus.ESME_RINVCMDLEN,
        )
    return RemoteProtocolError(
        f"{field}: longer than {spec.max_size - 1} octets (no NUL within {spec.max_size})",
        spec.status,
    )


def _decode_cstr(data: bytes, pos: int, end: int, field: str, spec: COctet) -> tuple[str, int]:
    lim = min(pos + spec.max_size, end)
    i = data.find(0, pos, lim)
    if i < 0:
        raise _bad_cstr(field, spec, data, pos, end)
    return data[pos:i].decode("latin-1"), i + 1


_ADDR = COctet(21, CommandStatus.ESME_RINVDSTADR)
_DL = COctet(21, CommandStatus.ESME_RINVDLNAME)


def _decode_dests(data: bytes, pos: int, end: int) -> tuple[tuple[Any, ...], int]:
    if pos >= end:
        raise _short("number_of_dests", 1, 0)
    count = data[pos]
    pos += 1
    if count > DestAddresses().max_count:
        raise RemoteProtocolError(f"number_of_dests {count} > 254", CommandStatus.ESME_RINVNUMDESTS)
    out: list[SmeAddress | DistributionList] = []
    for _ in range(count):
        if pos >= end:
            raise _short("dest_flag", 1, 0)
        flag = data[pos]
        pos += 1
        if flag == 1:
            if pos + 2 > end:
                raise _short("dest_addr_ton", 2, end - pos)
            ton, npi = data[pos], data[pos + 1]
            addr, pos = _decode_cstr(data, pos + 2, end, "destination_addr", _ADDR)
            out.append(SmeAddress(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr))
        elif flag == 2:
            name, pos = _decode_cstr(data, pos, end, "dl_name", _DL)
            out.append(DistributionList(dl_name=name))
        else:
            raise RemoteProtocolError(
                f"dest_flag {flag}: expected 1 (SME address) or 2 (distribution list)",
                CommandStatus.ESME_RINVDESTFLAG,
            )
    return tuple(out), pos


def _encode_dests(dests: tuple[Any, ...]) -> bytes:
    if len(dests) > DestAddresses().max_count:
        raise LocalProtocolError(f"submit_multi: {len(dests)} destinations > 254")
    parts = [bytes((len(dests),))]
    for dest in dests:
        if isinstance(dest, SmeAddress):
            parts.append(bytes((1, dest.dest_addr_ton, dest.dest_addr_npi)))
            parts.append(_encode_cstr(dest.destination_addr, "destination_addr", _ADDR))
        else:
            parts.append(b"\x02")
            parts.append(_encode_cstr(dest.dl_name, "dl_name", _DL))
    return b"".join(parts)


_ERR = struct.Struct(">I")


def _decode_unsuccess(data: bytes, pos: int, end: int) -> tuple[tuple[Any, ...], int]:
    if pos >= end:
        raise _short("no_unsuccess", 1, 0)
    count = data[pos]
    pos += 1
    if count > UnsuccessSmes().max_count:
        # What the encoder refuses (one per destination, at most 254) is refused here too,
        # so that every decoded PDU can be encoded again.
        raise RemoteProtocolError(f"no_unsuccess {count} > 254", CommandStatus.ESME_RINVNUMDESTS)
    out: list[UnsuccessSme] = []
    for _ in range(count):
        if pos + 2 > end:
            raise _short("unsuccess_sme", 2, end - pos)
        ton, npi = data[pos], data[pos + 1]
        addr, pos = _decode_cstr(data, pos + 2, end, "destination_addr", _ADDR)
        if pos + 4 > end:
            raise _short("error_status_code", 4, end - pos)
        (code,) = _ERR.unpack_from(data, pos)
        pos += 4
        out.append(
            UnsuccessSme(
                dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr, error_status_code=code
            )
        )
    return tuple(out), pos


def _encode_unsuccess(smes: tuple[Any, ...]) -> bytes:
    if len(smes) > UnsuccessSmes().max_count:
        raise LocalProtocolError(f"submit_multi_resp: {len(smes)} unsuccess_smes > 254")
    parts = [bytes((len(smes),))]
    for sme in smes:
        parts.append(bytes((sme.dest_addr_ton, sme.dest_addr_npi)))
        parts.append(_encode_cstr(sme.destination_addr, "destination_addr", _ADDR))
        parts.append(_ERR.pack(sme.error_status_code))
    return b"".join(parts)


def _encode_cstr(value: str, field: str, spec: COctet) -> bytes:
    raw = value.encode("latin-1")
    if len(raw) >= spec.max_size or 0 in raw:
        raise LocalProtocolError(f"{field}: {len(raw)} octets (max {spec.max_size - 1}, no NUL)")
    return raw + b"\0"


# --- code generation ---------------------------------------------------------------------------


def _int_groups(layout: tuple[tuple[str, Any], ...]) -> list[Any]:
    """Group consecutive integers, so each group costs one bounds check."""
    groups: list[Any] = []
    for name, kind in layout:
        if isinstance(kind, Int) and groups and isinstance(groups[-1], list):
            groups[-1].append((name, kind))
        elif isinstance(kind, Int):
            groups.append([(name, kind)])
        else:
            groups.append((name, kind))
    return groups


def _decoder_source(cid: CommandId, has_tlvs: bool) -> str:
    layout = FIELDS[cid]
    lines = ["def decode(b, pos, end):"]
    for group in _int_groups(layout):
        if isinstance(group, list):
            size = sum(k.size for _, k in group)
            names = [n for n, _ in group]
            lines.append(
                f"    if pos + {size} > end: raise _short({names[0]!r}, {size}, end - pos)"
            )
            if all(k.size == 1 for _, k in group):
                for i, n in enumerate(names):
                    lines.append(f"    f_{n} = b[pos + {i}]")
            else:
                fmt = ">" + "".join(k.fmt for _, k in group)
                targets = ", ".join(f"f_{n}" for n in names)
                lines.append(f"    {targets}, = _unpack({fmt!r}, b, pos)")
            lines.append(f"    pos += {size}")
            continue
        name, kind = group
        if isinstance(kind, COctet):
            # Empty strings are the common case (service_type, schedule, validity):
            # test the first octet before paying for find() and decode().
            lines += [
                f"    if pos < end and not b[pos]: f_{name} = ''; pos += 1",
                "    else:",
                f"        lim = pos + {kind.max_size}",
                "        if lim > end: lim = end",
                "        i = b.find(0, pos, lim)",
                f"        if i < 0: raise _bad_cstr({name!r}, _spec_{name}, b, pos, end)",
                f"        f_{name} = b[pos:i].decode('latin-1')",
                "        pos = i + 1",
            ]
        elif isinstance(kind, ShortMessage):
            lines += [
                "    if pos >= end: raise _short('sm_length', 1, 0)",
                "    n = b[pos]",
                "    pos += 1",
                f"    if n > {kind.max_size}: raise _RPE(f'sm_length {{n}} > {kind.max_size}', "
                "_RINVMSGLEN)",
                "    if pos + n > end: raise _RPE(",
                "        f'sm_length {n} exceeds the {end - pos} octets left', _RINVMSGLEN)",
                f"    f_{name} = b[pos:pos + n]",
                "    pos += n",
            ]
        elif isinstance(kind, DestAddresses):
            lines.append(f"    f_{name}, pos = _decode_dests(b, pos, end)")
        elif isinstance(kind, UnsuccessSmes):
            lines.append(f"    f_{name}, pos = _decode_unsuccess(b, pos, end)")
    if has_tlvs:
        lines.append("    f_tlvs = _decode_tlvs(b, pos, end) if pos < end else ()")
    else:
        lines.append("    if pos != end: raise _RPE(")
        lines.append(
            f"        f'{cid.name.lower()} has {{end - pos}} octets after its body', _RINVCMDLEN)"
        )
    args = [n for n, _ in layout] + (["tlvs"] if has_tlvs else [])
    # Positional: msgspec builds a Struct about 3x faster than from keywords.
    lines.append("    return _cls(" + ", ".join(f"f_{n}" for n in args) + ")")
    return "\n".join(lines) + "\n"


def _encoder_source(cid: CommandId, has_tlvs: bool) -> str:
    layout = FIELDS[cid]
    lines = ["def encode(p):", "    try:"]
    parts: list[str] = []
    for group in _int_groups(layout):
        if isinstance(group, list):
            if all(k.size == 1 for _, k in group):
                parts.append("_bytes((" + "".join(f"p.{n}, " for n, _ in group) + "))")
            else:
                fmt = ">" + "".join(k.fmt for _, k in group)
                parts.append(f"_pack({fmt!r}, " + ", ".join(f"p.{n}" for n, _ in group) + ")")
            continue
        name, kind = group
        if isinstance(kind, COctet):
            lines += [
                f"        f_{name} = p.{name}.encode('latin-1')",
                f"        if len(f_{name}) >= {kind.max_size} or 0 in f_{name}: raise _LPE(",
                f"            f'{name}: {{len(f_{name})}} octets "
                f"(max {kind.max_size - 1}, no NUL)')",
            ]
            parts += [f"f_{name}", "b'\\0'"]
        elif isinstance(kind, ShortMessage):
            lines += [
                f"        f_{name} = p.{name}",
                f"        if len(f_{name}) > {kind.max_size}: raise _LPE(",
                f"            f'{name}: {{len(f_{name})}} octets > {kind.max_size}; "
                "use the message_payload TLV')",
            ]
            parts += [f"_bytes((len(f_{name}),))", f"f_{name}"]
        elif isinstance(kind, DestAddresses):
            parts.append(f"_encode_dests(p.{name})")
        elif isinstance(kind, UnsuccessSmes):
            parts.append(f"_encode_unsuccess(p.{name})")
    if has_tlvs:
        parts.append("(_encode_tlvs(p.tlvs) if p.tlvs else b'')")
    if parts:
        lines.append("        return b''.join((" + ", ".join(parts) + ",))")
    else:
        lines.append("        return b''")
    lines += [
        "    except (_struct_error, ValueError, TypeError, AttributeError) as exc:",
        f"        raise _LPE(f'{cid.name.lower()}: {{exc}}') from exc",
    ]
    return "\n".join(lines) + "\n"


def _namespace(cid: CommandId) -> dict[str, Any]:
    ns: dict[str, Any] = {
        "_cls": PDU_CLASSES[cid],
        "_unpack": struct.unpack_from,
        "_pack": struct.pack,
        "_bytes": bytes,
        "_struct_error": struct.error,
        "_short": _short,
        "_bad_cstr": _bad_cstr,
        "_decode_tlvs": decode_tlvs,
        "_encode_tlvs": encode_tlvs,
        "_decode_dests": _decode_dests,
        "_encode_dests": _encode_dests,
        "_decode_unsuccess": _decode_unsuccess,
        "_encode_unsuccess": _encode_unsuccess,
        "_RPE": RemoteProtocolError,
        "_LPE": LocalProtocolError,
        "_RINVMSGLEN": CommandStatus.ESME_RINVMSGLEN,
        "_RINVCMDLEN": CommandStatus.ESME_RINVCMDLEN,
    }
    for name, kind in FIELDS[cid]:
        ns[f"_spec_{name}"] = kind
    return ns


def _has_tlvs(cid: CommandId) -> bool:
    return "tlvs" in PDU_CLASSES[cid].__struct_fields__


def _check_field_order(cid: CommandId, has_tlvs: bool) -> None:
    """Decoders build Structs positionally, so field order must be wire order."""
    wire = [name for name, _ in FIELDS[cid]] + (["tlvs"] if has_tlvs else [])
    declared = list(PDU_CLASSES[cid].__struct_fields__)
    if declared != wire:
        raise AssertionError(f"{cid.name}: Struct fields {declared} != wire order {wire}")


def compile_codecs() -> tuple[dict[int, Decoder], dict[int, Encoder]]:
    """One decoder and one encoder per command id, generated from ``FIELDS``."""
    decoders: dict[int, Decoder] = {}
    encoders: dict[int, Encoder] = {}
    for cid in FIELDS:
        has_tlvs = _has_tlvs(cid)
        _check_field_order(cid, has_tlvs)
        dec_src = _decoder_source(cid, has_tlvs)
        enc_src = _encoder_source(cid, has_tlvs)
        _SOURCES[cid] = dec_src + "\n" + enc_src
        ns = _namespace(cid)
        exec(compile(dec_src, f"<smpp decoder {cid.name}>", "exec"), ns)
        exec(compile(enc_src, f"<smpp encoder {cid.name}>", "exec"), ns)
        decoders[int(cid)] = ns["decode"]
        encoders[int(cid)] = ns["encode"]
    return decoders, encoders


def source(cid: CommandId) -> str:
    """The generated source of ``cid``'s decoder and encoder, for reading and debugging."""
    return _SOURCES[cid]
