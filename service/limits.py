"""Rate limits, and who a request is from as far as the service can tell.

The site's proxy forwards every visitor from its own address. So a caller counts as a visitor
only when the service can tell visitors apart: `X-Forwarded-For` from a trusted hop (a caller
that presented the API key, or one in `RAG_TRUSTED_PROXIES`), read from the right — the entry
the nearest trusted hop added, never the leftmost one, which the visitor wrote. IPv6 visitors
are grouped by /64 (one home or phone gets a whole /64). A caller the service cannot see
through gets a budget sized for a whole site (`RAG_RATE_LIMIT_SITE`), since every visitor may
be behind it; with `RAG_API_KEY` set, a caller without the key is not a proxy and gets one
visitor's budget, so failed authentications are counted too.

Buckets are of tokens, and a request's cost grows with its text: one token, plus one per
`RAG_RATE_COST_CHARS` (200) characters of the message and of the visitor's previous question (a
follow-up can carry it into retrieval). Every worker shares one native embedder, so what one
visitor's requests cost the others grows with the text embedded for them; the pipeline bounds
that (`max_search_chars`), and this bounds it again at admission, whatever a program sets, and
counts what a cloud LM reads. Measured on 2 cores, a 2,000-character message takes about 4.6
times a short question (unbounded, 20-40 times); it costs 11 tokens, a short question about 1.15.
A long request is let in while its bucket holds one token and then leaves it in debt, so it is
never refused outright, only followed by a longer wait.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers

from pipeline.settings import Settings
from service.errors import ServiceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RateLimiter:
    """Token buckets: `per_minute` tokens a minute per key, bursts of up to that many."""

    def __init__(self, per_minute: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def check(self, key: str, cost: float = 1.0) -> float | None:
        """None when allowed (and `cost` taken, possibly into debt); otherwise the seconds until
        the bucket holds a token again."""
        return self._take(key, cost, require=True)

    def charge(self, key: str, cost: float) -> None:
        """Take `cost` more from a request already let in (its bucket may go into debt)."""
        self._take(key, cost, require=False)

    def _take(self, key: str, cost: float, require: bool) -> float | None:
        if self.per_minute <= 0 or (cost <= 0 and not require):
            return None
        full = float(self.per_minute)
        rate = full / 60.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (full, now))
            tokens = min(full, tokens + (now - at) * rate)
            if require and tokens < 1.0:
                wait = (1.0 - tokens) / rate
            else:
                tokens = max(-full, tokens - cost)  # a debt of at most a minute's worth
                wait = None
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the least recently seen key
        return wait


@dataclass(frozen=True)
class Client:
    """Who a request is from: `address` keys the rate limit and the fair queue."""

    address: str
    visitor: bool  # one visitor's address; False: a caller that may carry a whole site

    def queue_key(self, session_id: str) -> str:
        """Whose requests wait behind each other: a visitor's, or (behind a proxy that does not
        say who its visitors are) one conversation's."""
        return self.address if self.visitor else f"{self.address} session {session_id}"


def _address(text: str) -> IPAddress | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def group(address: IPAddress) -> str:
    """The rate-limit key of an address: itself, or its /64 for IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def request_cost(message: str, history: list[dict], chars_per_token: int, max_chars: int) -> float:
    """Tokens a request costs: 1, plus its message and the visitor's previous question by length."""
    chars = len(message)
    previous = next((turn for turn in reversed(history) if turn.get("role") == "user"), None)
    if previous is not None:
        chars += min(max_chars, sum(len(part.get("text", "")) for part in previous.get("parts", [])))
    return 1.0 + chars / chars_per_token


class Limits:
    """The service's buckets: per session, per visitor, per caller that may be a site."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.sessions = RateLimiter(settings.rate_limit_session, clock=clock)
        self.visitors = RateLimiter(settings.rate_limit_ip, clock=clock)
        self.sites = RateLimiter(settings.rate_limit_site, clock=clock)
        self._trusted = settings.trusted_proxy_networks
        self._key_required = settings.api_key is not None

    def _trusted_hop(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self._trusted)

    def client(self, scope, headers: Headers, authenticated: bool, browser: bool = False) -> Client:
        """Who the request is from; `browser`: a visitor's own browser (the widget), one visitor."""
        peer_text = (scope.get("client") or ("unknown",))[0]
        peer = _address(peer_text)
        if authenticated or self.settings.trust_forwarded_for or self._trusted_hop(peer):
            hops = [h for value in headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
            for hop in reversed(hops):
                address = _address(hop)
                if address is None:
                    break  # a hop we cannot read: nothing left of it can be believed
                if not self._trusted_hop(address):
                    return Client(group(address), visitor=True)
        # nobody trusted says who is behind this caller
        name = group(peer) if peer is not None else peer_text[:64]
        return Client(name, visitor=browser or (self._key_required and not authenticated))

    def _bucket(self, client: Client) -> RateLimiter:
        return self.visitors if client.visitor else self.sites

    def enter(self, client: Client) -> None:
        """Before the body is read: a token from the caller's bucket, or 429."""
        wait = self._bucket(client).check(client.address)
        if wait is not None:
            what = "this address" if client.visitor else "this caller (all the visitors it forwards)"
            raise ServiceError(429, f"too many requests from {what}: slow down", wait)

    def admit(self, client: Client, session_id: str, message: str, history: list[dict]) -> None:
        """Once the body is parsed: the session's bucket, then the rest of the request's cost."""
        cost = request_cost(message, history, self.settings.rate_cost_chars, self.settings.max_message_chars)
        wait = self.sessions.check(session_id, cost)
        if wait is not None:
            raise ServiceError(429, "too many questions in this session: slow down", wait)
        self._bucket(client).charge(client.address, cost - 1.0)  # one token was taken by `enter`
