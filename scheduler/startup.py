"""Start-up tuning, in one place: what a process of ours sets before its work, and why.

Nothing here changes what the program does, only how fast it gets there; each knob says
what it bought in bench/ (bench/README.md has the figures).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

# Apprise sends on one shared pool sized cores + 4 (6 on a 2-core home server), so a
# 50-channel fan-out went out in nine waves (bench/fanout.py); sends wait on the network,
# not the CPU, so threads are cheap.
SEND_THREADS = 64


@contextmanager
def frozen_start(own_process: bool) -> Iterator[None]:
    """Imports, settings and the store, built once for the life of a command.

    When the command is the whole process, the cyclic collector pauses meanwhile and freezes
    what was built, so neither later collections nor the interpreter's exit walk it again (the
    OS frees it): ~125 ms of `ritual done` in bench/cli.py. Under CliRunner the process
    outlives the command, so nothing is frozen there; nested calls join the outer one.
    """
    if not own_process or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def prepare_sending() -> None:
    """Before the first send of a process: room in Apprise's pool for a wide fan-out."""
    from scheduler.adapters.notify import widen_send_pool

    widen_send_pool(SEND_THREADS)


# A burst of nudges (hundreds due at one instant) is bound by Apprise's CPU per send under one
# GIL; worker processes spread it over the cores (bench/fire_lag.py). Each costs a Python with
# Apprise imported (~55 MB resident, measured), which a household with a few rituals never needs.
SEND_WORKERS_FROM = 100  # stored rituals from which the daemon starts them with itself


def start_send_workers(setting: int | None, rituals: int) -> None:
    """Send bursts through worker processes: the setting's count, started now; by default one
    per core (none on a single core), started now from ``SEND_WORKERS_FROM`` rituals on, else
    by the first burst; 0 stops and forbids them."""
    from scheduler.adapters.notify import start_send_pool, stop_send_pool

    cores = os.cpu_count() or 1
    workers = setting if setting is not None else (cores if cores > 1 else 0)
    if not workers:
        stop_send_pool()
        return
    start_send_pool(workers, SEND_THREADS, now=setting is not None or rituals >= SEND_WORKERS_FROM)


def stop_send_workers() -> None:
    """Stop this process's send workers, if any (the daemon's way out)."""
    from scheduler.adapters.notify import stop_send_pool

    stop_send_pool()
