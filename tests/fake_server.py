"""What every fake cloud server in the tests shares: a threaded HTTP server on
127.0.0.1, a log of the requests it received, and injectable faults."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, urlsplit


@dataclass
class Fault:
    status: int | None = None  # answer with this status (None: only delay)
    times: int | None = 1  # how many requests it affects (None: until cleared)
    delay: float = 0.0  # seconds to sleep first
    path: str | None = None  # only requests whose path contains this
    retry_after: float | None = None  # Retry-After header on the error


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class FakeServer:
    """Subclasses set `handler` (a request handler that reads `self.server.fake`)."""

    handler: type[BaseHTTPRequestHandler]
    name = "fake-server"

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []  # (method, path with query, json body)
        self.request_headers: list[dict[str, str]] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self):
        self._server = _Server(("127.0.0.1", 0), self.handler)
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults and the request log ----------------------------------------------------

    def inject(self, status: int | None = None, *, times: int | None = 1, delay: float = 0.0,
               path: str | None = None, retry_after: float | None = None) -> Fault:
        """Answer the next `times` matching requests with `status` (and/or sleep `delay`)."""
        fault = Fault(status=status, times=times, delay=delay, path=path, retry_after=retry_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _record(self, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, body))
            self.request_headers.append(headers)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or fault.path in path:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


class FakeHandler(BaseHTTPRequestHandler):
    """Reads JSON bodies, records every request and answers injected faults.
    Subclasses implement `_handle(method)` (starting with `_receive`) and `_error`."""

    server: Any
    protocol_version = "HTTP/1.1"
    fault_messages: dict[int, str] = {}

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        raise NotImplementedError

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        raise NotImplementedError

    def _receive(self, method: str) -> tuple[SplitResult, Any, bytes] | None:
        """(url parts, JSON body or None, raw body), or None when an injected fault has answered."""
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        fake._record(method, self.path, body, dict(self.headers))
        fault = fake._take_fault(parts.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
                self._error(fault.status, self.fault_messages.get(fault.status, "Injected fault"), headers)
                return None
        return parts, body, raw
