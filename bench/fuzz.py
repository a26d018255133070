"""Fuzzing run of the codec and the session: every bad PDU gets the answer SMPP 3.4 gives.

``python -m bench.fuzz [--pdus N] [--seed S] [--workers W] [--json PATH]``

N PDUs (default 10,000,000) across W processes (default: one per CPU). Exit status 0 when
nothing other than a protocol error was raised and every answer was the spec's, else 1.

How the PDUs are made: Hypothesis draws valid PDUs of every command id from the project's
strategies (``tests.smpp.strategies``; ``--corpus-per-class`` of each, seeded), plus one
per command with every field at its limit; the project's encoder writes them. A seeded
``random.Random`` (``bench._fuzz_mutate``) then mutates them: bit flips, byte insertion and
deletion, truncation, command_length lies, random and unknown command ids (the response bit
set or not), random command_status and sequence numbers, TLVs of the wrong length or cut
short, C-octet strings without their NUL or past their maximum size, sm_length lies, two
PDUs in one read. One in ten goes out unchanged.

Where they go, each PDU both ways:

* the codec: a fresh ``FrameReader`` cuts it into frames and ``decode_pdu`` decodes each;
  a PDU it accepts must re-encode to the same body octets (``encode_body``);
* a ``Session``, one of eight kept alive: the MC role and the ESME role, each bound as
  transmitter, receiver and transceiver, and each still OPEN. Bytes arrive whole or, one
  time in sixteen, in pieces. Each session keeps up to four requests of its own in flight,
  and some PDUs carry their sequence numbers, so responses get paired too. Every
  ``PduRejected`` is answered with ``session.reject(event)``, every request with
  ``session.respond(event)``. A fatal framing error, a PDU left unfinished (then, one time
  in four, EOF), or a state left behind (unbind, a bind accepted in OPEN) starts that
  session afresh.

What is checked: the reference in ``bench._fuzz_spec`` (written apart from ``smpp/``) says
for every frame what the receiver must do: accept it, or answer with which command_status,
or close on a bad command_length (ESME_RINVCMDLEN, fatal). The codec's status hint, the
session's event, the answer's command_id, command_status and sequence_number, and the
session's state must all agree with it. Any other exception is a finding, as is any
disagreement; the first few are kept with the input's hex.

The report: PDUs fed, frames, valid ones decoded, rejected by status, fatal framing
errors, unfinished PDUs, events by kind, leniencies (accepted on purpose; see
``bench._fuzz_spec``), mutations applied, unexpected exceptions, wrong answers, PDU/s and
wall time; with ``--json PATH`` the same as one JSON object in PATH.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from bench._fuzz_check import Fuzzer, Tally, status_label
from bench._fuzz_mutate import Seed, seed_of
from smpp._wire import COctet, DestAddresses, Int, ShortMessage, UnsuccessSmes
from smpp.constants import TlvTag
from smpp.pdu import FIELDS, DistributionList, Pdu, SmeAddress, UnsuccessSme
from smpp.tlv import Tlv

__all__ = ["Fuzzer", "Tally", "build_corpus", "main", "run", "run_task", "summary", "table"]

DEFAULT_PDUS: Final = 10_000_000
TASK_SIZE: Final = 50_000
"""PDUs per task; each task has its own PRNG, seeded from the run's seed and its index."""

# --- the corpus --------------------------------------------------------------------------------


def _at_limit(kind: object) -> object:
    if isinstance(kind, Int):
        return (1 << 8 * kind.size) - 1
    if isinstance(kind, COctet):
        return "9" * (kind.max_size - 1)
    if isinstance(kind, ShortMessage):
        return b"\xff" * kind.max_size
    if isinstance(kind, DestAddresses):
        return (SmeAddress(1, 1, "9" * 20), DistributionList("d" * 20)) * 3
    if isinstance(kind, UnsuccessSmes):
        return (UnsuccessSme(1, 1, "9" * 20, 0xFFFFFFFF),) * 3
    raise TypeError(f"no limit for {kind!r}")


def _limits(cls: type[Pdu]) -> Pdu:
    """``cls`` with every mandatory field at its maximum, and two TLVs."""
    values: dict[str, Any] = {name: _at_limit(kind) for name, kind in FIELDS[cls.command_id]}
    if "tlvs" in cls.__struct_fields__:
        values["tlvs"] = (
            Tlv.of(TlvTag.MESSAGE_STATE, 2),
            Tlv(TlvTag.MESSAGE_PAYLOAD, bytes(range(256)) * 4),
        )
    return cls(**values)


def build_corpus(seed: int, per_class: int = 80) -> list[Seed]:
    """Valid PDUs of every command id: Hypothesis draws from the project's strategies
    (``per_class`` each, seeded with ``seed``), plus each command at its limits."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from tests.smpp.strategies import ALL_CLASSES, command_statuses, pdus, sequence_numbers

    corpus = [seed_of(_limits(cls), 1) for cls in ALL_CLASSES]
    statuses = st.one_of(st.just(0), command_statuses)
    quiet = settings(
        max_examples=per_class,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    for cls in ALL_CLASSES:

        @hypothesis_seed(seed)
        @quiet
        @given(pdus(cls), sequence_numbers, statuses)
        def collect(pdu: Pdu, sequence_number: int, status: int) -> None:
            corpus.append(seed_of(pdu, sequence_number, status))

        collect()
    return corpus


# --- the run -----------------------------------------------------------------------------------

_WORKER_CORPUS: list[Seed] = []


def _init_worker(corpus: list[Seed]) -> None:
    _WORKER_CORPUS[:] = corpus


def run_task(corpus: Sequence[Seed], seed: int, index: int, count: int) -> Tally:
    """``count`` PDUs from the PRNG seeded with (``seed``, ``index``)."""
    return Fuzzer(corpus, seed * 1_000_003 + index).run(count)


def _pool_task(args: tuple[int, int, int]) -> Tally:
    return run_task(_WORKER_CORPUS, *args)


def run(
    pdus: int,
    seed: int = 0,
    workers: int = 1,
    per_class: int = 80,
    progress: Callable[[Tally, float], None] | None = None,
    task_size: int = TASK_SIZE,
) -> dict[str, Any]:
    """Fuzz ``pdus`` PDUs; ``workers`` 1 runs in this process. Returns the result dict.

    The PDUs depend on ``seed`` and ``task_size`` only: any number of workers gives the
    same result (tasks are merged in order)."""
    start = time.perf_counter()
    corpus = build_corpus(seed, per_class)
    tasks = [
        (seed, i, min(task_size, pdus - first)) for i, first in enumerate(range(0, pdus, task_size))
    ]
    total = Tally()
    if workers <= 1:
        parts: Iterable[Tally] = (run_task(corpus, *task) for task in tasks)
        _collect(parts, total, start, progress)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(corpus,)) as pool:
            _collect(pool.imap(_pool_task, tasks), total, start, progress)
    wall = time.perf_counter() - start
    return _result(total, seed=seed, workers=workers, corpus=len(corpus), wall=wall)


def _collect(
    parts: Iterable[Tally],
    total: Tally,
    start: float,
    progress: Callable[[Tally, float], None] | None,
) -> None:
    for part in parts:
        total.merge(part)
        if progress is not None:
            progress(total, time.perf_counter() - start)


def _result(total: Tally, *, seed: int, workers: int, corpus: int, wall: float) -> dict[str, Any]:
    return {
        "benchmark": "fuzz",
        "seed": seed,
        "workers": workers,
        "corpus": corpus,
        "pdus": total.pdus,
        "frames": total.frames,
        "valid_decoded": total.valid_decoded,
        "rejected": sum(total.rejected.values()),
        "rejected_by_status": {status_label(s): n for s, n in total.rejected.most_common()},
        "fatal_framing": total.fatal_framing,
        "unfinished": total.unfinished,
        "events": dict(total.events.most_common()),
        "leniencies": dict(total.leniencies.most_common()),
        "mutations": dict(total.mutations.most_common()),
        "unexpected_exceptions": total.unexpected_exceptions,
        "wrong_answers": total.wrong_answers,
        "findings": total.findings,
        "wall_s": round(wall, 2),
        "pdus_per_s": round(total.pdus / wall) if wall > 0 else 0,
    }


# --- the report --------------------------------------------------------------------------------


def summary(result: dict[str, Any]) -> str:
    """The one-line summary."""
    r = result
    workers = f"{r['workers']} worker" + ("s" if r["workers"] != 1 else "")
    return (
        f"fuzz: {r['pdus']:,} PDUs in {r['wall_s']:.1f} s ({r['pdus_per_s']:,} PDU/s, "
        f"{workers}, seed {r['seed']}): {r['valid_decoded']:,} valid decoded, "
        f"{r['rejected']:,} rejected, {r['fatal_framing']:,} fatal framing errors, "
        f"{r['unexpected_exceptions']} unexpected exceptions, {r['wrong_answers']} wrong answers"
    )


def table(result: dict[str, Any]) -> str:
    """Rejections by status, events, leniencies and findings, one aligned block each."""
    lines: list[str] = []
    blocks = (
        ("rejected, by command_status", result["rejected_by_status"]),
        ("session events", result["events"]),
        ("accepted on purpose (bench._fuzz_spec)", result["leniencies"]),
    )
    for title, counts in blocks:
        lines.append(title)
        lines += [f"  {name:<32} {count:>12,}" for name, count in counts.items()] or ["  -"]
    other = {"frames": result["frames"], "unfinished PDUs": result["unfinished"]}
    lines += ["other"] + [f"  {name:<32} {count:>12,}" for name, count in other.items()]
    for finding in result["findings"]:
        lines.append(f"FINDING {finding['kind']} [{finding['lane']}] {finding['detail']}")
        lines.append(f"  mutations {finding['mutations'] or '-'}; input {finding['input_hex']}")
    return "\n".join(lines)


def _print_progress(every: int) -> Callable[[Tally, float], None]:
    next_at = [every]

    def show(total: Tally, elapsed: float) -> None:
        if total.pdus >= next_at[0]:
            next_at[0] += every
            bad = total.unexpected_exceptions + total.wrong_answers
            print(f"fuzz: {total.pdus:,} PDUs, {bad} findings, {elapsed:.0f} s", file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pdus", type=int, default=DEFAULT_PDUS, help="PDUs to feed")
    parser.add_argument("--seed", type=int, default=0, help="PRNG and Hypothesis seed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--json", metavar="PATH", help="write the result dict as JSON")
    parser.add_argument("--corpus-per-class", type=int, default=80, help="Hypothesis draws")
    args = parser.parse_args(argv)
    progress = _print_progress(max(TASK_SIZE, args.pdus // 10))
    result = run(args.pdus, args.seed, args.workers, args.corpus_per_class, progress)
    print(summary(result))
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 1 if result["unexpected_exceptions"] or result["wrong_answers"] else 0


if __name__ == "__main__":
    sys.exit(main())
