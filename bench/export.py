"""The export for the authorities: peak memory and speed, streamed against loaded-at-once.

``python -m bench.export [--quick] [--json] [--url URL]``

An appeal with N signatures (100,000 and 1,000,000; quick: 10,000) is exported to CSV
(masked numbers) by two contenders, each in a fresh process so its peak RSS is its own:
``ja-engine`` (``engine.campaigns.export.write_csv``: a page of 5,000 signatures at a time)
and ``naive`` (the obvious first version: every signature in one XRANGE, every number in one
HMGET, the rows built in a list, then written). Figures: the process's peak RSS (MiB, lower
is better) and rows per second. Flat memory means the peak does not grow with N.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from typing import Any

import redis
import trio

from bench._report import OURS, format_table, ratios, report_object, summarise
from bench.burst import wipe
from counters import Keys, Store, StoreConfig, open_store
from engine.campaigns.export import write_csv
from engine.masking import mask_number

NAIVE = "naive"
ROUNDS = 3


async def _prepare(url: str, namespace: str, count: int) -> int:
    async with open_store(StoreConfig(url=url, namespace=namespace)) as store:
        appeal = await store.appeals.next_id()
        for start in range(0, count, 10_000):
            numbers = [f"+316{n:08d}" for n in range(start, min(count, start + 10_000))]
            ids = await store.subscribers.ids(numbers)
            await store.appeals.sign_many([(appeal, i, "JA", f"m{i}") for i in ids])
        return appeal


async def _streamed(store: Store, appeal: int) -> int:
    with open(os.devnull, "w", newline="") as out:  # noqa: ASYNC230 (the benchmark's sink)
        return await write_csv(store, appeal, out)


async def _loaded(store: Store, appeal: int) -> int:
    raw = await store.batcher.execute(("XRANGE", store.keys.appeal_signatures(appeal), "-", "+"))
    ids = [int(fields[b"s"]) for _, fields in raw]
    numbers = await store.subscribers.numbers(ids)
    rows = [(entry.decode(), mask_number(n or ""), f[b"x"].decode())
            for (entry, f), n in zip(raw, numbers, strict=True)]  # fmt: skip
    with open(os.devnull, "w", newline="") as out:  # noqa: ASYNC230 (the benchmark's sink)
        csv.writer(out).writerows(rows)
    return len(rows)


def child(url: str, namespace: str, appeal: int, contender: str) -> None:
    """One export in this process; prints rows, seconds and peak RSS as JSON."""

    async def main() -> tuple[int, float]:
        async with open_store(StoreConfig(url=url, namespace=namespace)) as store:
            start = time.perf_counter()
            export = _streamed if contender == OURS else _loaded
            rows = await export(store, appeal)
            return rows, time.perf_counter() - start

    rows, seconds = trio.run(main)
    peak = _peak_mib()
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak}))


def _peak_mib() -> float:
    """This process's peak RSS. ``VmHWM`` belongs to the process's own memory map; Linux
    carries ``ru_maxrss`` across exec, so a child of a large parent (``python -m bench``
    after the burst) would report the parent's peak instead of its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)


def _run(url: str, namespace: str, appeal: int, contender: str) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.export", "child", url, namespace, str(appeal), contender]
    done = subprocess.run(argv, capture_output=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def _measure(
    url: str, sizes: list[int], rounds: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    """(peak MiB, rows per second) by case and contender, a figure per round."""
    memory: dict[str, dict[str, list[float]]] = {}
    speed: dict[str, dict[str, list[float]]] = {}
    client = redis.Redis.from_url(url)
    try:
        for size in sizes:
            namespace = f"benchexport{uuid.uuid4().hex[:8]}"
            try:
                appeal = trio.run(_prepare, url, namespace, size)
                case = f"{size:,} signatures"
                memory[case] = {OURS: [], NAIVE: []}
                speed[case] = {OURS: [], NAIVE: []}
                for _ in range(rounds):
                    for contender in (OURS, NAIVE):
                        result = _run(url, namespace, appeal, contender)
                        if result["rows"] != size:
                            raise RuntimeError(
                                f"{contender} exported {result['rows']} of {size} rows"
                            )
                        memory[case][contender].append(result["peak_mib"])
                        speed[case][contender].append(size / result["seconds"])
            finally:
                wipe(client, Keys(namespace))
    finally:
        client.close()
    return memory, speed


def collect(quick: bool, url: str) -> dict[str, Any]:
    """Both sizes, measured; the JSON object of ``--json``: peak MiB (lower is better) per
    size, and rows per second (``rows_per_s`` cases, higher is better)."""
    sizes = [10_000] if quick else [100_000, 1_000_000]
    rounds = 1 if quick else ROUNDS
    memory, speed = _measure(url, sizes, rounds)
    mem = {c: {k: summarise(v) for k, v in per.items()} for c, per in memory.items()}
    rps = {c: {k: summarise(v) for k, v in per.items()} for c, per in speed.items()}
    results: dict[str, Any] = {f"peak_mib {c}": r for c, r in mem.items()}
    all_ratios = {f"peak_mib {c}": ratios(r, better="lower") for c, r in mem.items()}
    for case, per in rps.items():
        results[f"rows_per_s {case}"] = dict(per) | {"unit": "rows/s", "better": "higher"}
        all_ratios[f"rows_per_s {case}"] = ratios(per)
    obj = report_object("export", "MiB", results, all_ratios, better="lower")
    obj["settings"] = {"rounds": rounds, "signatures": sizes}
    return obj


def _table(obj: dict[str, Any], prefix: str, unit: str) -> str:
    """The human-readable table of the cases named ``prefix`` + size."""
    results = {
        case.removeprefix(prefix): {n: s for n, s in per.items() if n in (OURS, NAIVE)}
        for case, per in obj["results"].items()
        if case.startswith(prefix)
    }
    vs = {case.removeprefix(prefix): r for case, r in obj["ratios"].items()}
    return format_table(results, vs, unit)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["child"]:
        child(args[1], args[2], int(args[3]), args[4])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    ns = parser.parse_args(args)
    try:
        obj = collect(ns.quick, ns.url)
    except RuntimeError as exc:
        print(exc)
        return 1
    print(_table(obj, "peak_mib ", "peak MiB"))
    print(_table(obj, "rows_per_s ", "rows/s"))
    if ns.json:
        print(json.dumps(obj, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
