"""The simulator's Prometheus registry, read with get_sample_value."""

from __future__ import annotations

import trio
import trio.testing

from smpp.constants import CommandStatus
from smpp.pdu import SubmitSM
from smpp.simulator import open_simulator
from smpp.simulator.metrics import registry_for
from tests.simulator.helpers import FIRST, esme, make_config


async def test_metrics_read_the_counters(autojump_clock: trio.testing.MockClock) -> None:
    config = make_config(accounts=[{"system_id": "ja", "password": "pw", "tps": 2}])
    async with open_simulator(config) as sim, esme(sim) as (conn, inbox):
        registry = registry_for(sim)
        statuses = []
        for i in range(3):
            pdu = SubmitSM(destination_addr=str(FIRST + i), registered_delivery=1)
            statuses.append((await conn.request(pdu)).command_status)
        assert statuses == [0, 0, CommandStatus.ESME_RTHROTTLED]
        await inbox.wait_for(2)
        await trio.sleep(0.1)

        def value(name: str, **labels: str) -> float | None:
            return registry.get_sample_value(name, labels)

        assert value("ja_sim_pdus_total", command="submit_sm", direction="in") == 3
        assert value("ja_sim_pdus_total", command="deliver_sm", direction="out") == 2
        assert value("ja_sim_pdus_total", command="deliver_sm_resp", direction="in") == 2
        assert value("ja_sim_throttled_total", account="ja") == 1
        assert value("ja_sim_submits_accepted_total", account="ja") == 2
        assert value("ja_sim_binds_total", result="ok") == 1
        assert value("ja_sim_binds_active", account="ja") == 1
        assert value("ja_sim_receipts_total", stat="DELIVRD") == 2
        assert value("ja_sim_deliveries_total", result="ok") == 2
        assert value("ja_sim_messages_total") == 2
