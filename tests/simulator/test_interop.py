"""A client we did not write: smpplib (blocking sockets, in a worker thread) binds as a
transceiver, submits with registered_delivery=1, and gets its receipt and a JA reply."""

from __future__ import annotations

import time
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import trio

from smpp.simulator import open_simulator
from tests.simulator.helpers import FIRST, make_config
from tests.waiting import wait_for

FAST = {
    "handsets": {"reply_probability": 1.0, "delay_min": 0.0, "delay_sigma": 0.3},
    "time_compression": 1e5,
    "receipts": {"delay": 0.01},
}


def smpplib_session(port: int) -> dict[str, Any]:
    """What one smpplib client sees: its message id, and the deliver_sm it received."""
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    received: list[Any] = []
    sent: list[Any] = []
    client.set_message_received_handler(lambda pdu, **_: received.append(pdu))
    client.set_message_sent_handler(lambda pdu, **_: sent.append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id="ja", password="pw")
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="4000",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr=str(FIRST + 1),
            short_message=b"Teken de oproep",
            registered_delivery=1,
        )
        deadline = time.monotonic() + 5
        while (len(received) < 2 or not sent) and time.monotonic() < deadline:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return {
        "message_id": sent[0].message_id.decode() if sent else None,
        "deliveries": [(p.esm_class, p.source_addr.decode(), p.short_message) for p in received],
        "receipted": [p.receipted_message_id for p in received if p.esm_class & 0x04],
    }


@pytest.mark.slow
async def test_smpplib_client_binds_submits_and_receives() -> None:
    with trio.fail_after(15):
        async with open_simulator(make_config(**FAST)) as sim:
            _, port = await sim.listen(port=0)
            seen = await trio.to_thread.run_sync(smpplib_session, port)
            # smpplib unbound cleanly: the connection ends and the account has no bind left.
            await wait_for(lambda: sim.account().binds == 0, on=sim.centre.changed, what="unbound")
    message_id = seen["message_id"]
    assert message_id == "1"
    receipts = [d for d in seen["deliveries"] if d[0] & 0x04]
    replies = [d for d in seen["deliveries"] if not d[0] & 0x04]
    assert len(receipts) == 1
    assert receipts[0][2].startswith(b"id:1 sub:001 dlvrd:001 ")
    assert b"stat:DELIVRD" in receipts[0][2]
    assert seen["receipted"] == [b"1"]
    assert len(replies) == 1
    assert replies[0][1] == str(FIRST + 1)
    assert sim.ledger.sent(FIRST + 1)[0].acked_at is not None
    assert sim.stats.binds["ok"] == 1
