"""The batcher: Redis work leaves the Trio event loop in batches.

Theory of operation. Callers (any number of Trio tasks) put a request - an operation kind and
its arguments - into one bounded memory channel and park. Runner tasks take the first request,
let every task that is runnable in this loop turn add its own (one checkpoint, no sleep: a lone
JA is sent at once), then take whatever else is queued up to ``max_batch`` operations. The batch
is grouped by kind, each kind turns its operations into a few commands (typically one Lua call
per appeal for a whole batch), and all of them go to Redis as one pipeline in a worker thread
(redis-py has no Trio support). Each caller is then woken with its own result.

Failure. A caller only ever gets a result that Redis sent back. If the connection fails, the
whole batch's callers get `StoreUnavailable` (the operations may or may not have happened;
every write here is idempotent or deduplicated, so retrying is safe), the batcher marks itself
down, new calls fail at once instead of waiting, and a background task reconnects with
exponential back-off. Socket timeouts bound how long any of this can take.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import outcome
import redis
import trio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import StoreError, StoreUnavailable
from .scripts import SCRIPTS, Eval

__all__ = ["RAW", "Batcher", "Command", "Kind", "Single", "check"]

log = logging.getLogger(__name__)

A = TypeVar("A")
R = TypeVar("R")
Arg = str | bytes | int | float
Command = tuple[Arg, ...] | Eval

_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
# Errors Redis answers with while it cannot take writes (loading, read-only replica, disk or
# memory trouble): the operation did not happen and may succeed later.
_UNAVAILABLE_PREFIXES = ("LOADING", "READONLY", "MISCONF", "OOM", "MASTERDOWN", "TRYAGAIN")


def check(reply: object) -> Any:
    """Return ``reply``, or raise the typed error for an error reply inside a pipeline."""
    if isinstance(reply, ResponseError):
        text = str(reply)
        if text.startswith(_UNAVAILABLE_PREFIXES) or type(reply).__name__ == "ReadOnlyError":
            raise StoreUnavailable(f"Redis refused the write: {text}")
        raise StoreError(f"Redis error: {text}")
    if isinstance(reply, Exception):
        raise StoreError(f"Redis error: {reply}")
    return reply


class Kind(Generic[A, R]):
    """How a batch of one kind of operation becomes Redis commands, and replies become results.

    Both methods run in the worker thread. ``results`` gets exactly the replies of the commands
    that ``commands`` returned (error replies as exception objects: pass each through `check`)
    and returns one result per operation; an exception instance in that list is raised in the
    caller of that operation only. If ``results`` raises, every operation of the batch gets it.
    """

    def commands(self, ops: Sequence[A]) -> list[Command]:
        raise NotImplementedError

    def results(self, ops: Sequence[A], replies: Sequence[object]) -> Sequence[R | Exception]:
        raise NotImplementedError


class Single(Kind[A, R]):
    """A kind with one command per operation and one reply per result."""

    def __init__(self, build: Callable[[A], Command], parse: Callable[[Any], R]) -> None:
        self._build = build
        self._parse = parse

    def commands(self, ops: Sequence[A]) -> list[Command]:
        return [self._build(op) for op in ops]

    def results(self, ops: Sequence[A], replies: Sequence[object]) -> list[R | Exception]:
        out: list[R | Exception] = []
        for reply in replies:
            try:
                out.append(self._parse(check(reply)))
            except (StoreError, StoreUnavailable) as exc:
                out.append(exc)
        return out


RAW: Single[Command, Any] = Single(lambda command: command, lambda reply: reply)
"""A plain command (or script call) whose reply the caller reads itself."""


def _queue(pipe: redis.client.Pipeline, command: Command) -> None:
    args = command.command() if isinstance(command, Eval) else command
    pipe.execute_command(*args)  # type: ignore[no-untyped-call]


class _Request:
    """One caller's operation (``many``: a sequence of them) and, later, its result."""

    __slots__ = ("abandoned", "kind", "many", "op", "result", "task")

    def __init__(self, kind: Kind[Any, Any], op: Any, many: bool, task: trio.lowlevel.Task) -> None:
        self.kind = kind
        self.op = op
        self.many = many
        self.task = task
        self.abandoned = False
        self.result: Any = None

    def abort(self, _: Any) -> trio.lowlevel.Abort:
        self.abandoned = True  # the batch may still run; its caller just stops waiting
        return trio.lowlevel.Abort.SUCCEEDED

    def deliver(self, result: Any) -> None:
        """Wake the caller with ``result`` (raised if it is an exception), once."""
        if not self.abandoned:
            self.abandoned = True
            if isinstance(result, BaseException):
                trio.lowlevel.reschedule(self.task, outcome.Error(result))
            else:
                trio.lowlevel.reschedule(self.task, outcome.Value(result))


class Batcher:
    """Runs operations from many Trio tasks as few Redis round trips.

    Args:
        client: a redis-py client with bounded socket timeouts and no retries of its own (see
            `counters.config.make_client`): a silent retry could apply a write twice.
        max_batch: most operations per batch; bigger batches only come from ``call_many``.
        runners: batches in flight at once, each on its own connection and worker thread.
        backoff: first and longest wait between reconnection attempts, in seconds.
        on_batch: called with (operations, seconds) after each batch, for metrics.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_batch: int = 1000,
        runners: int = 2,
        backoff: tuple[float, float] = (0.05, 2.0),
        on_batch: Callable[[int, float], None] | None = None,
        queue_size: int = 65536,
    ) -> None:
        self.client = client
        self._max_batch = max_batch
        self._runners = runners
        self._backoff = backoff
        self._on_batch = on_batch
        self._send, self._receive = trio.open_memory_channel[_Request](queue_size)
        self._down: str | None = None
        self._reconnecting = False
        self._nursery: trio.Nursery | None = None
        self.batches = 0
        self.operations = 0

    @property
    def is_up(self) -> bool:
        return self._down is None

    async def call(self, kind: Kind[A, R], op: A) -> R:
        """Run one operation in the next batch and return its result.

        Raises:
            StoreUnavailable: Redis did not confirm it (down, restarting, timed out).
            StoreError: Redis answered with an error.
        """
        # The hot path: no helper coroutine, no per-call closure (each costs a measurable
        # share of the ~6 us a Trio task switch leaves for everything else).
        if self._down is not None:
            raise StoreUnavailable(self._down)
        req = _Request(kind, op, False, trio.lowlevel.current_task())
        try:
            self._send.send_nowait(req)
        except trio.WouldBlock:
            await self._put(req)
        result: R = await trio.lowlevel.wait_task_rescheduled(req.abort)
        return result

    async def call_many(self, kind: Kind[A, R], ops: Sequence[A]) -> list[R]:
        """Run many operations (bulk imports, fan-out chunks); raises the first error."""
        out: list[R] = []
        for start in range(0, len(ops), self._max_batch):
            if self._down is not None:
                raise StoreUnavailable(self._down)
            req = _Request(
                kind, ops[start : start + self._max_batch], True, trio.lowlevel.current_task()
            )
            await self._put(req)
            results: list[R | Exception] = await trio.lowlevel.wait_task_rescheduled(req.abort)
            for result in results:
                if isinstance(result, Exception):
                    raise result
                out.append(result)
        return out

    async def execute(self, command: Command) -> Any:
        """One plain command or script call, batched with everyone else's; its raw reply."""
        return await self.call(RAW, command)

    async def execute_many(self, commands: Sequence[Command]) -> list[Any]:
        return await self.call_many(RAW, commands)

    async def _put(self, req: _Request) -> None:
        try:
            await self._send.send(req)  # waits only when the queue is full: back-pressure
        except trio.ClosedResourceError:
            raise StoreUnavailable("the Redis batcher is closed") from None

    async def connect(self) -> None:
        """Check that Redis answers and load the scripts.

        Raises:
            StoreUnavailable: Redis did not answer.
        """
        try:
            # Abandoned on cancellation: a stop asked for while Redis has not answered yet
            # must not wait for the socket timeout.
            await trio.to_thread.run_sync(self._probe, abandon_on_cancel=True)
        except _OUTAGE as exc:
            raise StoreUnavailable(f"Redis does not answer: {exc}") from exc

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve batches until cancelled (call `connect` first to fail early)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for _ in range(self._runners):
                    nursery.start_soon(self._runner)
                task_status.started()
        finally:
            self._send.close()
            self._fail_queued()

    def _fail_queued(self) -> None:
        while True:
            try:
                req = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            req.deliver(StoreUnavailable("the Redis batcher stopped"))

    async def _runner(self) -> None:
        receive = self._receive
        while True:
            first = await receive.receive()
            await trio.lowlevel.cancel_shielded_checkpoint()  # let this turn's callers join
            batch = [first]
            size = len(first.op) if first.many else 1
            while size < self._max_batch:
                try:
                    req = receive.receive_nowait()
                except trio.WouldBlock:
                    break
                batch.append(req)
                size += len(req.op) if req.many else 1
            await self._run_batch(batch, size)

    async def _run_batch(self, batch: list[_Request], size: int) -> None:
        live = [req for req in batch if not req.abandoned]
        if not live:
            return
        if self._down is not None:
            error = StoreUnavailable(self._down)
            for req in live:
                req.deliver(error)
            return
        started = time.perf_counter()
        try:
            await trio.to_thread.run_sync(self._execute, live)
        except _OUTAGE as exc:
            self._go_down(exc)
            error = StoreUnavailable(f"Redis did not confirm: {exc}")
            for req in live:
                req.deliver(error)
            return
        except Exception as exc:  # e.g. a reply redis-py could not parse: a bug, not an outage
            log.exception("a Redis batch failed; its %d operations get the error", size)
            # The connection may still hold replies nobody read: never hand it out again
            # (it is back in the pool by now; the other runner's connection is left alone).
            self.client.connection_pool.disconnect(inuse_connections=False)
            failed = StoreError(f"Redis batch failed: {type(exc).__name__}: {exc}")
            for req in live:
                req.deliver(failed)
            return
        self.batches += 1
        self.operations += size
        for req in live:
            req.deliver(req.result)
        if self._on_batch is not None:
            self._on_batch(size, time.perf_counter() - started)

    # -- worker thread -------------------------------------------------------------------

    def _execute(self, batch: list[_Request]) -> None:
        groups: dict[Kind[Any, Any], list[_Request]] = {}
        for req in batch:
            groups.setdefault(req.kind, []).append(req)
        plan: list[tuple[Kind[Any, Any], list[_Request], list[Any], int, int]] = []
        commands: list[Command] = []
        for kind, reqs in groups.items():
            ops: list[Any] = []
            for req in reqs:
                if req.many:
                    ops.extend(req.op)
                else:
                    ops.append(req.op)
            try:
                cmds = kind.commands(ops)
            except Exception as exc:  # a bug in a kind: its callers see it, the batch goes on
                for req in reqs:
                    req.result = exc
                continue
            plan.append((kind, reqs, ops, len(commands), len(cmds)))
            commands.extend(cmds)
        replies = self._pipeline(commands)
        for kind, reqs, ops, start, count in plan:
            try:
                results = kind.results(ops, replies[start : start + count])
            except Exception as exc:
                for req in reqs:
                    req.result = exc
                continue
            i = 0
            for req in reqs:
                if req.many:
                    req.result = results[i : i + len(req.op)]
                    i += len(req.op)
                else:
                    req.result = results[i]
                    i += 1

    def _pipeline(self, commands: list[Command]) -> list[object]:
        if not commands:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                _queue(pipe, command)
            replies: list[object] = pipe.execute(raise_on_error=False)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:  # the server lost its script cache: load, and re-run only those calls
            self._load_scripts()
            with self.client.pipeline(transaction=False) as pipe:
                for i in missing:
                    _queue(pipe, commands[i])
                for i, reply in zip(missing, pipe.execute(raise_on_error=False), strict=True):
                    replies[i] = reply
        return replies

    def _load_scripts(self) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for script in SCRIPTS.values():
                _queue(pipe, ("SCRIPT", "LOAD", script.source))
            pipe.execute()

    def _probe(self) -> None:
        self.client.connection_pool.disconnect()  # drop sockets to a server that went away
        self.client.ping()
        self._load_scripts()

    # -- outage --------------------------------------------------------------------------

    def _go_down(self, exc: BaseException) -> None:
        if self._down is None:
            self._down = f"Redis is unavailable ({type(exc).__name__}: {exc}); reconnecting"
            log.warning("%s", self._down)
        if not self._reconnecting and self._nursery is not None:
            self._reconnecting = True
            self._nursery.start_soon(self._reconnect)

    async def _reconnect(self) -> None:
        delay, longest = self._backoff
        try:
            while True:
                await trio.sleep(delay)
                try:
                    await trio.to_thread.run_sync(self._probe)
                except (*_OUTAGE, ResponseError) as exc:
                    log.debug("Redis still unavailable: %s", exc)
                    delay = min(delay * 2, longest)
                    continue
                self._down = None
                log.warning("Redis is available again")
                return
        finally:
            self._reconnecting = False
