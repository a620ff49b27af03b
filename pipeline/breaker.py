"""A circuit breaker for the LM: after repeated outages, skip it for a cool-down, then try again.

Closed: every request may call the LM. After `failures` outages in a row it opens: requests
answer from the site without the LM at once, instead of each waiting out the timeouts. After
`cooldown_s` one request may try the LM again (half-open): a success closes the breaker, a
failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Breaker:
    def __init__(self, failures: int = 3, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.failures, self.cooldown_s, self._clock = failures, cooldown_s, clock
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._opened_at: float | None = None
        self._probing = False
        self.skipped = 0  # requests answered without the LM because the breaker was open

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        """Whether this request may call the LM (one probe at a time once the cool-down is over)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at >= self.cooldown_s and not self._probing:
                self._probing = True
                return True
            self.skipped += 1
            return False

    def success(self) -> None:
        with self._lock:
            self._in_a_row, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._in_a_row += 1
            if self._probing or self._in_a_row >= self.failures:
                self._opened_at = self._clock()
            self._probing = False
