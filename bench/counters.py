"""Redis from Trio: JA records per second through the batcher, against one call per message.

``python -m bench.counters [--quick] [--json] [--rounds N] [--url URL]``

Cases, each measured in alternating rounds (ours, then the naive peer):

* ``sign``: many Trio tasks each await one JA at a time (``Appeals.sign``) - the batcher
  gathers them into one Lua call per batch. The peer, ``redis-py-naive``, records the same JA
  with the same scripts but one round trip per message (sync redis-py, hiredis).
* ``sign_many``: a few tasks hand over 100 JAs per call (an inbox that decodes a whole
  receive buffer); compared with the same naive figure.
* ``lone_ja_latency_p50`` / ``_p99``: one JA at a time on an idle store, in milliseconds.
* ``bytes_per_subscriber`` / ``bytes_per_signer_*``: Redis memory (MEMORY USAGE, exact) for
  1,000,000 subscribers (ids both ways, active bit, consent entry, route, language) and for
  1,000,000 signers of one appeal: dedupe state (bitmap and count), the signatures stream
  (id, raw text, message id per signer), and both together.

Redis: ``--url``, else ``REDIS_URL``, else redis://127.0.0.1:6379/0. Keys live under a
namespace of their own and are deleted at the end. Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import redis
import trio

from bench._report import OURS, Stats, format_table, ratios, summarise
from counters import Keys, Store, StoreConfig, open_store
from counters.scripts import SCRIPTS

NAIVE = "redis-py-naive"
_encode = msgspec.msgpack.encode


class Sizes(msgspec.Struct, frozen=True):
    rounds: int
    ours: int  # JAs per round through the batcher
    naive: int  # JAs per round one call at a time
    tasks: int
    lone: int  # lone-JA latency samples
    memory: int  # subscribers and signers for the memory figures


FULL = Sizes(rounds=5, ours=200_000, naive=20_000, tasks=1000, lone=2000, memory=1_000_000)
QUICK = Sizes(rounds=2, ours=5_000, naive=1_000, tasks=100, lone=100, memory=10_000)


async def ours_sign(store: Store, appeal: int, n: int, tasks: int) -> float:
    sign = store.appeals.sign

    async def replier(first: int) -> None:
        for subscriber in range(first, n + 1, tasks):
            await sign(appeal, subscriber, text="JA", message_id="0123456789")

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for first in range(1, tasks + 1):
            nursery.start_soon(replier, first)
    return n / (time.perf_counter() - start)


async def ours_sign_many(store: Store, appeal: int, n: int, tasks: int, chunk: int = 100) -> float:
    async def inbox(first: int) -> None:
        for start in range(first, n + 1, chunk * tasks):
            stop = min(start + chunk, n + 1)
            await store.appeals.sign_many(
                [(appeal, s, "JA", "0123456789") for s in range(start, stop)]
            )

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for t in range(tasks):
            nursery.start_soon(inbox, 1 + t * chunk)
    return n / (time.perf_counter() - start)


def naive_sign(client: redis.Redis, keys: Keys, appeal: int, n: int) -> float:
    """One round trip per JA: the same sign and reach scripts, for one member each."""
    sign, reach = SCRIPTS["sign"].sha, SCRIPTS["reach"].sha
    appeal_keys = (
        keys.appeal_signed(appeal),
        keys.appeal_count(appeal),
        keys.appeal_signatures(appeal),
        keys.appeal_minutes(appeal),
    )
    day = dt.datetime.now(dt.UTC).date()
    reach_keys = (keys.reach_day(day), keys.reach_month(day), keys.reach_all)
    start = time.perf_counter()
    for subscriber in range(1, n + 1):
        with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(sign, 4, *appeal_keys, _encode([subscriber, "JA", "0123456789"]))
            pipe.evalsha(reach, 3, *reach_keys, _encode([subscriber]))
            pipe.execute()
    return n / (time.perf_counter() - start)


async def lone_latency(store: Store, appeal: int, samples: int) -> list[float]:
    """Milliseconds per JA when nothing else is going on (a pause before each)."""
    out: list[float] = []
    for subscriber in range(1, samples + 1):
        await trio.sleep(0.002)
        start = time.perf_counter()
        await store.appeals.sign(appeal, subscriber, text="JA", message_id="0123456789")
        out.append((time.perf_counter() - start) * 1000)
    return out


def naive_latency(client: redis.Redis, keys: Keys, appeal: int, samples: int) -> list[float]:
    sha = SCRIPTS["sign"].sha
    appeal_keys = (
        keys.appeal_signed(appeal),
        keys.appeal_count(appeal),
        keys.appeal_signatures(appeal),
        keys.appeal_minutes(appeal),
    )
    out: list[float] = []
    for subscriber in range(1, samples + 1):
        time.sleep(0.002)
        start = time.perf_counter()
        client.evalsha(sha, 4, *appeal_keys, _encode([subscriber, "JA", "0123456789"]))
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: Sequence[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def usage(client: redis.Redis, *names: str) -> int:
    return sum(int(client.memory_usage(name, samples=0) or 0) for name in names)


async def memory(store: Store, client: redis.Redis, n: int) -> dict[str, float]:
    """Bytes per subscriber and per signer, for ``n`` of each."""
    k = store.keys
    for start in range(0, n, 10_000):
        numbers = [f"+316{i:08d}" for i in range(start, min(start + 10_000, n))]
        await store.subscribers.subscribe_many(
            numbers, source="web", route="kpn/rx1", language="nl"
        )
    sub = (
        k.sub_ids,
        k.sub_numbers,
        k.sub_active,
        k.sub_consent,
        k.sub_route,
        k.sub_lang,
        k.sub_seq,
    )
    per_subscriber = usage(client, *sub) / n
    for start in range(1, n + 1, 10_000):
        replies = [(1, s, "JA", "0123456789") for s in range(start, min(start + 10_000, n + 1))]
        await store.appeals.sign_many(replies)
    dedupe = usage(client, k.appeal_signed(1), k.appeal_count(1)) / n
    stream = usage(client, k.appeal_signatures(1)) / n
    return {
        "bytes_per_subscriber": per_subscriber,
        "bytes_per_signer_dedupe": dedupe,
        "bytes_per_signer_signatures": stream,
        "bytes_per_signer_total": dedupe + stream,
    }


def wipe(client: redis.Redis, keys: Keys) -> None:
    for pattern in keys.pattern():
        names = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(names), 1000):
            client.unlink(*names[start : start + 1000])


Results = dict[str, dict[str, Stats]]


async def measure(url: str, sizes: Sizes, progress: Callable[[str], None]) -> Results:
    keys = Keys(f"bench{uuid.uuid4().hex[:8]}")
    client = redis.Redis.from_url(url)
    samples: dict[str, dict[str, list[float]]] = {
        "sign": {OURS: [], NAIVE: []},
        "sign_many": {OURS: []},
        "lone_ja_latency_p50": {OURS: [], NAIVE: []},
        "lone_ja_latency_p99": {OURS: [], NAIVE: []},
    }
    mem: dict[str, float] = {}
    try:
        async with open_store(StoreConfig(url=url, namespace=keys.namespace)) as store:
            appeal = 1000
            for r in range(sizes.rounds):
                appeal += 3
                samples["sign"][OURS].append(
                    await ours_sign(store, appeal, sizes.ours, sizes.tasks)
                )
                samples["sign"][NAIVE].append(naive_sign(client, keys, appeal + 1, sizes.naive))
                samples["sign_many"][OURS].append(
                    await ours_sign_many(store, appeal + 2, sizes.ours, 10)
                )
                ours_lat = await lone_latency(store, appeal + 100, sizes.lone // sizes.rounds)
                naive_lat = naive_latency(client, keys, appeal + 200, sizes.lone // sizes.rounds)
                for name, lat in ((OURS, ours_lat), (NAIVE, naive_lat)):
                    samples["lone_ja_latency_p50"][name].append(percentile(lat, 50))
                    samples["lone_ja_latency_p99"][name].append(percentile(lat, 99))
                progress(f"round {r + 1}/{sizes.rounds}: sign {samples['sign'][OURS][-1]:,.0f}/s")
                wipe(client, keys)
            mem = await memory(store, client, sizes.memory)
    finally:
        wipe(client, keys)
        client.close()
    results: Results = {}
    for case, per in samples.items():
        results[case] = {name: summarise(values) for name, values in per.items()}
    for case, value in mem.items():
        results[case] = {OURS: summarise([value])}
    return results


def report(
    results: Results, n_memory: int
) -> tuple[dict[str, object], dict[str, dict[str, float]]]:
    """The JSON object of design.md, and the ratios on their own (for the table)."""
    out_results: dict[str, object] = {}
    out_ratios: dict[str, dict[str, float]] = {}
    for case, stats in results.items():
        entry: dict[str, object] = dict(stats)
        if case == "sign_many":
            out_ratios[case] = ratios({OURS: stats[OURS], NAIVE: results["sign"][NAIVE]})
        elif case.startswith("lone"):
            entry |= {"unit": "ms", "better": "lower"}
            out_ratios[case] = ratios(stats, better="lower")
        elif case.startswith("bytes"):
            entry |= {"unit": f"bytes (n={n_memory:,})", "better": "lower"}
        else:
            out_ratios[case] = ratios(stats)
        out_results[case] = entry
    obj: dict[str, object] = {
        "benchmark": "counters",
        "unit": "JA/s",
        "results": out_results,
        "ratios": out_ratios,
    }
    return obj, out_ratios


def collect(
    quick: bool, url: str, progress: Callable[[str], None], rounds: int | None = None
) -> dict[str, object]:
    """Every case, measured; the JSON object of ``--json``."""
    sizes = QUICK if quick else FULL
    if rounds:
        sizes = msgspec.structs.replace(sizes, rounds=rounds)
    results = trio.run(measure, url, sizes, progress)
    obj, _ = report(results, sizes.memory)
    obj["settings"] = msgspec.structs.asdict(sizes)
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.counters", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5, quick 2)")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    obj: dict[str, Any] = collect(args.quick, args.url, progress, args.rounds)
    results, all_ratios = obj["results"], obj["ratios"]
    throughput = {c: results[c] for c in ("sign", "sign_many")}
    print(format_table(throughput, all_ratios, "JA/s"))
    for case, per in results.items():
        if case.startswith(("lone", "bytes")):
            figures = ", ".join(
                f"{name} {s['median']:g} [{s['min']:g} .. {s['max']:g}]"
                for name, s in per.items()
                if name not in ("unit", "better")
            )
            print(f"{case}: {figures}")
    if args.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
