"""The public server as a process of its own: ``ja-engine public FILE``, or a child of
``ja-engine run`` when ``[http] public_port`` is set.

Why a process: the counter is what a website under load asks for, and every request costs
Python time. Served from the engine's event loop, 200 clients polling as fast as it answered
cut a TV burst from about 10,000 to 356 JA/s. In a process of its own the requests cost that
process's CPU; it runs at a lower priority (``[http] public_nice``, 10 by default) so that
on a busy machine the kernel gives the signatures the CPU first and the counter what is
left; and it needs nothing of the engine but Redis, so it can also run on other machines,
as many as a website needs (each reads Redis once a second per appeal).

The child of ``ja-engine run`` is given the engine's Redis URL (also the embedded server's),
says ``public on http://HOST:PORT`` on its standard output once it listens, is restarted
when it dies (after 1 s, doubling to 30 s while it keeps dying) and gets SIGTERM when the
engine stops.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable

import trio

from counters import EmbeddedServerError, StoreConfig, StoreUnavailable, open_store
from engine.config import Config
from engine.groups import sole
from engine.http.server import ListenError, url_host
from engine.live.counter import PublicCounters
from engine.live.server import MAX_CONNECTIONS, PublicServer, serve_public
from engine.logs import configure as configure_logging
from engine.masking import redact_url

__all__ = ["EXIT_NO_LISTEN", "EXIT_NO_REDIS", "public_from_cli", "run_public_process"]

log = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_NO_REDIS = 3
EXIT_NO_LISTEN = 4
STARTUP = 30.0
"""Seconds the child may take to say it listens."""
RESTART_FIRST, RESTART_MAX = 1.0, 30.0
STOP_GRACE = 10.0
"""Seconds between SIGTERM and SIGKILL (a Redis read it is in may take 5)."""
SAYS = "public on "
SPARE_FILES = 64
"""Open files kept for other uses than connections (Redis, logs, the listener)."""


# --- the process itself -------------------------------------------------------------------------


def public_from_cli(config: Config, args: argparse.Namespace) -> int:
    """``ja-engine public FILE [--host H] [--port P]``: serve until SIGINT/SIGTERM."""
    configure_logging(
        getattr(args, "log_format", None) or config.logging.format,
        getattr(args, "log_level", None) or config.logging.level,
    )
    url = config.redis.url or os.environ.get("REDIS_URL", "").strip()
    if not url:
        print("ja-engine public: no Redis URL: set redis.url or REDIS_URL (the embedded server "
              "belongs to ja-engine run, which starts this server itself when [http] "
              "public_port is set)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    host = args.host or config.http.public_host
    port = args.port if args.port is not None else config.http.public_port
    if port is None:
        print("ja-engine public: no port: set [http] public_port or pass --port",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    _lower_priority(config.http.public_nice)
    connections = _connections_allowed()
    store = StoreConfig(url=url, namespace=config.redis.namespace)
    try:
        trio.run(
            _serve, store, host, port, config.http.public_max_rate, connections, args.parent_pipe
        )
    except BaseException as exc:  # the nurseries wrap what they raise
        if (unreachable := sole(exc, (StoreUnavailable, EmbeddedServerError))) is not None:
            print(f"ja-engine public: cannot reach Redis at {redact_url(url)} ({unreachable})",
                  file=sys.stderr)  # fmt: skip
            return EXIT_NO_REDIS
        if isinstance(refused := sole(exc, (OSError,)), OSError):
            print(f"ja-engine public: cannot listen on {url_host(host)}:{port} "
                  f"({refused.strerror or refused}); free the port or change [http] "
                  "public_host/public_port", file=sys.stderr)  # fmt: skip
            return EXIT_NO_LISTEN
        raise
    return 0


def _lower_priority(nice: int) -> None:
    if nice <= 0:
        return
    try:
        os.nice(nice)
    except OSError as exc:  # not allowed here: serve anyway, at the same priority
        log.warning("could not lower the public server's priority by %d: %s", nice, exc)


def _connections_allowed() -> int:
    """`MAX_CONNECTIONS`, or fewer if the process may not open that many files: the soft
    limit is raised to the hard one first (a common soft limit, 1024, would otherwise stop
    the accepting long before the limit is answered with 503)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = MAX_CONNECTIONS + SPARE_FILES if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
    return max(1, min(MAX_CONNECTIONS, soft - SPARE_FILES))


async def _serve(
    store_config: StoreConfig,
    host: str,
    port: int,
    max_rate: float,
    connections: int,
    parent_pipe: bool,
) -> None:
    """Serve until SIGINT or SIGTERM, or (``parent_pipe``) until standard input ends: the
    engine that started this process holds its other end, so even a ``kill -9`` of the
    engine stops it (and frees the port for the next start)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_store(store_config) as store, trio.open_nursery() as nursery:
            server = PublicServer(
                PublicCounters(store.appeals), max_rate=max_rate, max_connections=connections
            )

            async def signalled(done: trio.CancelScope) -> None:
                async for signum in signals:
                    log.info("signal %d: stopping", signum)
                    break
                done.cancel()

            async def orphaned(done: trio.CancelScope) -> None:
                async with trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())) as pipe:
                    while await pipe.receive_some(4096):
                        pass
                log.info("the engine that started this server is gone: stopping")
                done.cancel()

            async def stop() -> None:
                async with trio.open_nursery() as waiting:
                    waiting.start_soon(signalled, waiting.cancel_scope)
                    if parent_pipe:
                        waiting.start_soon(orphaned, waiting.cancel_scope)

            bound = await nursery.start(serve_public, server, host, port, stop)
            where = f"http://{url_host(host)}:{bound}"
            log.info("public counter and live page on %s/live/", where)
            print(f"{SAYS}{where}", flush=True)


# --- the child of ja-engine run -----------------------------------------------------------------


async def run_public_process(
    config_path: str,
    redis_url: str,
    stop: Callable[[], Awaitable[None]],
    *,
    argv: list[str] | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``ja-engine public config_path`` until ``stop`` returns, restarting it when it
    dies; report its URL once it first listens. ``argv`` replaces the command (tests).

    Raises:
        ListenError: its first start failed (its own message is on standard error).
    """
    command = argv or [sys.executable, "-m", "engine", "public", config_path, "--parent-pipe"]
    env = {**os.environ, "REDIS_URL": redis_url}
    pause, started = RESTART_FIRST, False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_when, stop, nursery.cancel_scope)
        while True:
            process = await trio.lowlevel.open_process(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
            )
            try:
                url = await _listening(process)
                if url is not None:
                    if not started:
                        started = True
                        task_status.started(url)
                    else:
                        log.warning("public server restarted on %s", url)
                        pause = RESTART_FIRST
                status = await _wait(process)
            finally:
                with trio.CancelScope(shield=True):
                    await _end(process)
            if not started:
                said = f"the public server exited with status {status} before listening"
                if status == EXIT_NO_REDIS:
                    raise StoreUnavailable(f"{said}: it could not reach Redis")
                setting = "[http] public_host/public_port" if status == EXIT_NO_LISTEN else (
                    "the [http] public_* settings")  # fmt: skip
                raise ListenError(f"{said} (its own message is above)", setting=setting)
            log.error("public server exited with status %d; restarting in %.0f s", status, pause)
            await trio.sleep(pause)
            pause = min(pause * 2, RESTART_MAX)


async def _cancel_when(stop: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
    await stop()
    scope.cancel()


async def _listening(process: trio.Process) -> str | None:
    """The URL the child says it listens on; None when it ended (or hung) first."""
    assert process.stdout is not None
    said = b""
    with trio.move_on_after(STARTUP):
        while b"\n" not in said:
            data = await process.stdout.receive_some(4096)
            if not data:
                return None
            said += data
        line = said.split(b"\n", 1)[0].decode(errors="replace")
        if line.startswith(SAYS):
            return line[len(SAYS) :]
    process.kill()
    return None


async def _wait(process: trio.Process) -> int:
    """Its exit status; meanwhile its standard output is read and dropped (it says nothing
    more there, but a full pipe must never stall it)."""
    assert process.stdout is not None
    stdout = process.stdout
    async with trio.open_nursery() as nursery:

        async def drain() -> None:
            while await stdout.receive_some(65536):
                pass

        nursery.start_soon(drain)
        status = await process.wait()
        nursery.cancel_scope.cancel()
    return status


async def _end(process: trio.Process) -> None:
    """SIGTERM, then SIGKILL after ``STOP_GRACE`` seconds."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(STOP_GRACE):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            await pipe.aclose()
