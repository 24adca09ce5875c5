"""Sending a burst from a few worker processes: Apprise's CPU per send, spread over the cores.

One send through Apprise costs a few milliseconds of CPU under the GIL (building the request,
the ``requests`` session and connection, parsing the answer), so a daemon sending a thousand
nudges at one instant is bound by one core whatever its thread pool. A ``SendPool`` keeps a few
processes (spawned, so none inherits the daemon's threads or locks), each with Apprise imported
and one Apprise object per channel URL kept between sends. A large batch is cut into one share
per worker; each worker sends its share at once (Apprise's own threads) and answers with one
outcome per send, judged there from Apprise's log lines as in-process sends are.

What crosses to a worker: the channel's real URL, the title and body. Nothing a worker logs
leaves it (its root logger has a null handler); the errors it returns are scrubbed by the
parent's guard before anyone sees them. Drop-in plugin channels and "done" replacements are
always sent in-process (a worker has no drop-ins loaded). A worker that dies or does not answer
in time fails its share as transient (the outbox retries it) and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.adapters.notify.channel import Channel
from scheduler.adapters.notify.secrets import install_guard, scrub
from scheduler.adapters.notify.send import Outcome, message_url, notify_through, send_each, widen_send_pool
from scheduler.app.ports import SendResult
from scheduler.domain.messages import Message

log = logging.getLogger("scheduler.adapters.notify")

POOL_MIN_SENDS = 32  # a smaller batch costs less in-process than crossing to the workers
_KEPT_URLS = 512  # Apprise objects a worker keeps, one per channel URL
ORPHAN_CHECK_SECONDS = 1.0  # how often a worker looks whether its daemon is still there


@dataclass(frozen=True, slots=True)
class PoolSend:
    """One send as a worker receives it: plain values only."""

    url: str  # the channel's real URL (a secret): what the worker instantiates
    title: str
    body: str
    body_format: str
    keep: bool  # whether the worker may keep the Apprise object for this URL (not a one-message URL)


class SendPool:
    """A few spawned processes that send shares of a large batch; started in the background."""

    def __init__(self, workers: int, threads: int) -> None:
        self.workers = max(1, workers)
        self.threads = threads  # each worker's room for sends at once (widen_send_pool)
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        """Spawn the workers and warm each (Apprise imported) in a background thread."""
        with self._lock:
            if self._executor is not None:
                return
            self._ready.clear()
            executor = concurrent.futures.ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
                initargs=(self.threads, os.getpid()),
            )
            self._executor = executor
        threading.Thread(target=self._warm, args=(executor,), name="send-pool-warm", daemon=True).start()

    def _warm(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        try:
            futures = [executor.submit(_worker_ready) for _ in range(self.workers * 2)]
            for future in futures:
                future.result(timeout=120)
        except Exception as exc:  # a worker that cannot start: batches stay in-process
            log.error("send workers did not start: %s", exc.__class__.__name__)
            self._drop(executor)
            return
        if self._executor is executor:
            self._ready.set()
            log.info("%d send workers ready", self.workers)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def send(self, sends: Sequence[PoolSend], *, timeout: float) -> list[Outcome] | None:
        """Each send's outcome, in order; None when the pool is not ready (send them in-process)."""
        executor = self._executor
        if executor is None or not self._ready.is_set():
            return None
        shares = [list(sends[n :: self.workers]) for n in range(self.workers)]
        try:
            futures = [executor.submit(_send_share, share, timeout) for share in shares if share]
        except RuntimeError:  # shut down or broken meanwhile
            self._drop(executor)
            return None
        answers: list[list[Outcome]] = []
        for future, share in zip(futures, [s for s in shares if s], strict=True):
            try:
                answers.append(future.result(timeout=_share_deadline(timeout, len(share))))
            except Exception as exc:  # died, or stuck past every send's deadline
                reason = "did not answer in time" if isinstance(exc, TimeoutError) else "stopped"
                log.error("a send worker %s; its %d sends will be retried", reason, len(share))
                answers.append([(False, False, f"the send worker {reason}", 0.0, None)] * len(share))
                self._drop(executor)
        # Put the shares back in the batch's order: share n holds sends n, n + workers, ...
        outcomes: list[Outcome | None] = [None] * len(sends)
        for n, answer in enumerate(answers):
            outcomes[n :: self.workers] = answer
        return [outcome for outcome in outcomes if outcome is not None]

    def _drop(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        """Forget a broken executor (the next ``start`` builds a new one)."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
                self._ready.clear()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._ready.clear()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _share_deadline(timeout: float, sends: int) -> float:
    """How long a share may take: each send's own deadline runs in the worker, all at once, so
    the share ends a little after one of them, plus the CPU its sends cost on a busy machine."""
    return timeout + 10.0 + 0.02 * sends


class _Current:
    pool: SendPool | None = None  # this process's send workers, when started
    workers = 0  # how many a burst may start (0: none)
    threads = 1
    lock = threading.Lock()  # two threads' first bursts start one pool


def start_send_pool(workers: int, threads: int, *, now: bool = True) -> None:
    """Let this process send bursts through ``workers`` worker processes (0: never), started
    in the background now, or else by the first batch large enough to use them."""
    if _Current.pool is not None and _Current.pool.workers != workers:
        stop_send_pool()
    _Current.workers, _Current.threads = workers, threads
    if workers and now:
        _started()


def _started() -> SendPool:
    with _Current.lock:
        if _Current.pool is None:
            _Current.pool = SendPool(_Current.workers, _Current.threads)
        started = _Current.pool
    started.start()
    return started


def stop_send_pool() -> None:
    with _Current.lock:
        pool, _Current.pool = _Current.pool, None
        _Current.workers = 0
    if pool is not None:
        pool.close()


def send_batch(
    channels: Sequence[Channel], messages: Sequence[Message], *, timeout: float
) -> list[SendResult]:
    """Send each message to its channel at once: through the workers when the batch is large
    and they are ready, the rest (drop-in plugins, replacements, small batches) in-process."""
    pooled = _poolable(channels, messages) if _Current.workers else []
    if len(pooled) < POOL_MIN_SENDS:
        return asyncio.run(send_each(channels, messages, timeout=timeout))
    pool = _started()  # a first burst starts the workers, for the next one
    if not pool.ready:
        return asyncio.run(send_each(channels, messages, timeout=timeout))
    far_ones = set(pooled)
    here = [n for n in range(len(channels)) if n not in far_ones]
    sends = [_pool_send(channels[n], messages[n]) for n in pooled]

    async def both() -> tuple[list[Outcome] | None, list[SendResult]]:
        far = asyncio.to_thread(pool.send, sends, timeout=timeout)
        near = send_each([channels[n] for n in here], [messages[n] for n in here], timeout=timeout)
        return await asyncio.gather(far, near)

    outcomes, near = asyncio.run(both())
    results: list[SendResult | None] = [None] * len(channels)
    for n, result in zip(here, near, strict=True):
        results[n] = result
    if outcomes is None:  # the pool broke meanwhile: these go in-process after all
        again = asyncio.run(
            send_each([channels[n] for n in pooled], [messages[n] for n in pooled], timeout=timeout)
        )
        for n, result in zip(pooled, again, strict=True):
            results[n] = result
    else:
        for n, (ok, permanent, error, elapsed, status) in zip(pooled, outcomes, strict=True):
            channel = channels[n]
            results[n] = SendResult(
                channel.target, channel.masked, ok, permanent, scrub(error), elapsed, status
            )
    return [result for result in results if result is not None]


def _poolable(channels: Sequence[Channel], messages: Sequence[Message]) -> list[int]:
    """The sends a worker can make: Apprise's own services, loaded, not a replacement."""
    return [
        n
        for n, (channel, message) in enumerate(zip(channels, messages, strict=True))
        if channel.problem is None
        and channel._plugin is not None
        and getattr(channel._plugin, "category", "") != "custom"
        and not message.replaces
    ]


def _pool_send(channel: Channel, message: Message) -> PoolSend:
    url = message_url(channel, message)
    if url is None:
        body, url, keep = message.body_with_links(), channel.url.get_secret_value(), True
    else:
        body, keep = message.body, False
    return PoolSend(url, message.title, body, message.body_format, keep)


# In the worker ---------------------------------------------------------------------------
_APPRISE: dict[str, Any] = {}


def _worker_start(threads: int, parent: int) -> None:
    """A worker's start: nothing it logs leaves it, Apprise imported, its send pool widened."""
    root = logging.getLogger()
    root.handlers[:] = [logging.NullHandler()]
    root.setLevel(logging.WARNING)
    install_guard()
    widen_send_pool(threads)
    threading.Thread(target=_orphaned, args=(parent,), name="parent-watch", daemon=True).start()


def _orphaned(parent: int) -> None:
    """End this worker once its daemon is gone (a SIGKILL leaves no one to shut the pool down).

    ``parent`` comes from the daemon itself: a worker still starting when the daemon was
    killed already has another parent by the time it could ask."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def _worker_ready() -> bool:
    return True


def _send_share(share: Sequence[PoolSend], timeout: float) -> list[Outcome]:
    async def one(send: PoolSend) -> Outcome:
        try:
            sender = _apprise(send)
        except Exception as exc:  # an Apprise bug must not take the share down
            return False, False, f"{exc.__class__.__name__}: {exc}", 0.0, None
        return await notify_through(sender, send.body, send.title, send.body_format, timeout)

    async def all_of_them() -> list[Outcome]:
        return list(await asyncio.gather(*(one(send) for send in share)))

    return asyncio.run(all_of_them())


def _apprise(send: PoolSend) -> Any:
    """The Apprise object for this send's URL: kept between sends, unless made for one message."""
    from apprise import Apprise

    found = _APPRISE.get(send.url)
    if found is None:
        found = Apprise()
        found.add(send.url)
        if send.keep:
            if len(_APPRISE) >= _KEPT_URLS:
                _APPRISE.pop(next(iter(_APPRISE)))
            _APPRISE[send.url] = found
    return found
