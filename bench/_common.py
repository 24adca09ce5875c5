"""What the daemon benchmarks share: a local HTTP receiver, a prepared database, a running daemon, /proc.

The receiver runs in the benchmark's own process; the daemon and its bare-APScheduler baseline each
run as a child process, so neither shares an interpreter (or its lock) with the receiver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the receiver -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # time.time() when the request body was read
    path: str
    title: str


@dataclass(slots=True)
class _Log:
    delay: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        try:
            title = str(json.loads(body).get("title", ""))
        except (ValueError, AttributeError):
            title = ""
        log = self.server.log
        with log.lock:
            log.arrivals.append(Arrival(at, self.path, title))
        if log.delay:
            time.sleep(log.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: thousands of requests would otherwise print a line each."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096  # a burst of thousands of connections must not be refused
    log: _Log


@contextmanager
def receiver(delay: float = 0.0) -> Iterator[tuple[int, _Log]]:
    """A JSON receiver on 127.0.0.1 answering every POST after ``delay`` s; yields (port, log)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.log = _Log(delay)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.log
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def receiver_process(delay: float = 0.0) -> Iterator[tuple[int, Callable[[], int]]]:
    """The receiver in a child process, for a benchmark whose sender runs in this one (no shared GIL).

    Yields (port, count), where ``count()`` says how many requests arrived so far.
    """
    process = subprocess.Popen(
        [sys.executable, __file__, "--receive", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdin is not None and process.stdout is not None
    port = int(process.stdout.readline())

    def count() -> int:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("count\n")
        process.stdin.flush()
        return int(process.stdout.readline())

    try:
        yield port, count
    finally:
        process.stdin.close()
        process.wait(timeout=10)


def _receive_main(delay: float) -> None:
    """The child of ``receiver_process``: prints its port, answers "count" lines until stdin closes."""
    with receiver(delay) as (port, log):
        print(port, flush=True)
        for _line in sys.stdin:
            print(len(log.arrivals), flush=True)


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- a prepared daemon ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Home:
    """A config dir and a data dir, as the daemon finds them through its environment."""

    config: Path
    data: Path

    @classmethod
    def make(cls, folder: Path, channel_urls: Sequence[str]) -> Home:
        home = cls(folder / "config", folder / "data")
        home.config.mkdir(parents=True)
        home.data.mkdir(parents=True)
        (home.config / "apprise.txt").write_text("".join(f"{url}\n" for url in channel_urls))
        return home

    @property
    def database(self) -> str:
        return f"sqlite:///{self.data / 'ritual.db'}"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RITUAL_", "NOTIFY_", "WATCHDOG_"))}
        env.update(
            RITUAL_CONFIG_DIR=str(self.config),
            RITUAL_DATA_DIR=str(self.data),
            RITUAL_DIGEST_ON="off",
            RITUAL_HTTP_BIND="127.0.0.1:0",
            RITUAL_TIMEZONE="UTC",
            PYTHONPATH=str(ROOT),
        )
        return env


def daily_rituals(home: Home, times: Sequence[tuple[str, str]], now: datetime) -> None:
    """Store one daily ritual per (name, "HH:MM" in UTC), as `ritual add` would, in one transaction."""
    from scheduler.adapters.store import SqlStore
    from scheduler.app.stored import RitualSource
    from scheduler.domain.definitions import ritual_from_table

    store = SqlStore.open(home.database)
    try:
        with store.transaction():
            for name, at in times:
                table = {"name": name, "title": name, "every": "day", "at": at, "timezone": "UTC"}
                ritual = ritual_from_table(table)
                store.save_ritual(ritual, RitualSource.CLI, now=now, effective_from=now.date())
    finally:
        store.close()


def at_minute(when: datetime) -> str:
    """A due time as a ritual's ``at`` (whole minutes, UTC)."""
    return f"{when.astimezone(UTC):%H:%M}"


@dataclass
class Child:
    """A benchmark child process (the daemon or the baseline) with its stderr in a file."""

    process: subprocess.Popen[bytes]
    stderr: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.stderr.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> float:
        """Block until ``text`` shows in the child's stderr; return the time.time() it was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return time.time()
            if self.process.poll() is not None:
                raise RuntimeError(f"child exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"'{text}' not seen within {timeout:g} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_child(args: Sequence[str], env: dict[str, str], stderr: Path) -> Child:
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=sink, cwd=ROOT
        )
    return Child(process, stderr)


def start_daemon(home: Home, stderr: Path, **settings: str) -> Child:
    """`python -m scheduler run`, as systemd would start it (info logging, to a file here);
    ``settings`` as environment variables (``send_workers="0"``: RITUAL_SEND_WORKERS=0)."""
    environ = home.environ() | {f"RITUAL_{name.upper()}": value for name, value in settings.items()}
    return start_child(["-m", "scheduler", "run"], environ, stderr)


# --- the bare baseline --------------------------------------------------------------------------------


def bare_main(argv: Sequence[str]) -> None:
    """The baseline child: APScheduler 3.11 alone, one DateTrigger job per (title, epoch) line of stdin.

    Each job POSTs ``{"title": ...}`` to ``argv[0]`` with urllib, or, when ``argv[0]`` is an
    Apprise URL (``json://...``), sends it the way a naive script would: a new ``Apprise()``
    holding that one URL per send. With a second argument, an interval job that does nothing
    runs every that many seconds (what a watchdog tick costs at least). It prints "ready" to
    stderr once its jobs are armed and runs until SIGTERM.
    """
    from apscheduler.schedulers.background import BackgroundScheduler

    url = argv[0]
    post = _apprise_post(url) if url.startswith("json://") else _urllib_post(url)
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )
    for line in sys.stdin:
        title, epoch = line.split()
        scheduler.add_job(post, "date", args=[title], run_date=datetime.fromtimestamp(float(epoch), UTC))
    if len(argv) > 1:
        scheduler.add_job(lambda: None, "interval", seconds=float(argv[1]))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    scheduler.start()
    print("ready", file=sys.stderr, flush=True)
    stop.wait()
    scheduler.shutdown(wait=True)


def _urllib_post(url: str) -> Callable[[str], None]:
    import urllib.request

    def post(title: str) -> None:
        body = json.dumps({"title": title}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    return post


def _apprise_post(url: str) -> Callable[[str], None]:
    import apprise

    def post(title: str) -> None:
        sender = apprise.Apprise()
        sender.add(url)
        sender.notify(title=title, body=title)

    return post


def start_bare(url: str, jobs: Sequence[tuple[str, float]], stderr: Path, tick: float | None = None) -> Child:
    """The baseline child (``bare_main``) with these (title, due epoch) jobs; ``url`` is an
    http:// address (urllib) or a json:// one (Apprise)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    extra = [] if tick is None else [str(tick)]
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, __file__, url, *extra],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            cwd=ROOT,
        )
    assert process.stdin is not None
    process.stdin.write("".join(f"{title} {epoch!r}\n" for title, epoch in jobs).encode())
    process.stdin.close()
    return Child(process, stderr)


# --- /proc ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """A process's CPU time and voluntary context switches (its wakeups), over all its threads."""

    cpu: float  # utime + stime, seconds (clock-tick resolution)
    run_ns: int  # time on a CPU from schedstat, nanoseconds (finer than ``cpu``)
    wakeups: int
    threads: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu - other.cpu, self.run_ns - other.run_ns, self.wakeups - other.wakeups, self.threads
        )


def usage(pid: int) -> Usage:
    """What ``pid`` spent so far; its CPU includes its living child processes' (send workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)
    cpu += sum(usage(child).cpu for child in _children(pid))
    wakeups = run_ns = threads = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            schedstat = (task / "schedstat").read_text()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        threads += 1
        run_ns += int(schedstat.split()[0])
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                wakeups += int(line.split()[1])
    return Usage(cpu, run_ns, wakeups, threads)


def _children(pid: int) -> list[int]:
    """The living child processes of ``pid`` (every thread's)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except FileNotFoundError:
            continue
    return found


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receive"]:
        _receive_main(float(sys.argv[2]))
    else:
        bare_main(sys.argv[1:])
