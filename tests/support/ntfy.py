"""A small ntfy server for tests: it keeps what is published, answers polls, and takes updates.

Enough of ntfy's HTTP API for the nudges: JSON publishing to ``/`` (how Apprise sends, with
X-Tags and X-Actions headers), polling ``/<topic>/json?poll=1&tags=...`` (newline-separated
JSON messages), and publishing to ``/<topic>/<sequence id>`` to replace a delivered
notification (ntfy 2.16's updates). Facts from ntfy's documentation; nothing of ntfy's code.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Published:
    id: str
    topic: str
    title: str
    message: str
    tags: list[str]
    actions: str = ""
    replaced_by: list[tuple[str, str]] = field(default_factory=list)  # (title, message) of updates


class FakeNtfy:
    """ntfy on 127.0.0.1 for the length of a test; ``messages`` is what each topic got."""

    def __init__(self) -> None:
        self.messages: list[Published] = []
        self.updates: list[tuple[str, str, str, str]] = []  # (topic, sequence id, title, message)
        self.polls = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = [p for p in urlsplit(self.path).path.split("/") if p]
                with fake._lock:
                    if not parts:  # JSON publish
                        body: dict[str, Any] = json.loads(raw or b"{}")
                        tags = [t for t in (self.headers.get("X-Tags") or "").split(",") if t]
                        message = Published(
                            f"m{len(fake.messages) + 1}",
                            str(body["topic"]),
                            str(body.get("title", "")),
                            str(body.get("message", "")),
                            tags,
                            self.headers.get("X-Actions", ""),
                        )
                        fake.messages.append(message)
                        answer = {"id": message.id, "event": "message", "topic": message.topic}
                    else:  # /<topic>/<sequence id>: an update
                        topic, sequence = parts[0], parts[1]
                        title, text = self.headers.get("X-Title", ""), raw.decode()
                        fake.updates.append((topic, sequence, title, text))
                        for message in fake.messages:
                            if message.id == sequence and message.topic == topic:
                                message.replaced_by.append((title, text))
                        answer = {"id": f"u{len(fake.updates)}", "event": "message", "topic": topic}
                self._answer(200, json.dumps(answer) + "\n")

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                parts = [p for p in url.path.split("/") if p]
                query = parse_qs(url.query)
                if len(parts) != 2 or parts[1] != "json" or query.get("poll") != ["1"]:
                    self._answer(404, '{"error": "not here"}\n')
                    return
                wanted = [t for t in ",".join(query.get("tags", [])).split(",") if t]
                with fake._lock:
                    fake.polls += 1
                    found = [
                        m for m in fake.messages if m.topic == parts[0] and all(t in m.tags for t in wanted)
                    ]
                lines = "".join(
                    json.dumps({"id": m.id, "event": "message", "topic": m.topic, "tags": m.tags}) + "\n"
                    for m in found
                )
                self._answer(200, lines)

            def _answer(self, code: int, text: str) -> None:
                data = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def url(self, topic: str) -> str:
        return f"ntfy://127.0.0.1:{self.server.server_address[1]}/{topic}"

    def on(self, topic: str) -> list[Published]:
        return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
