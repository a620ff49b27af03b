"""Rate limits and fair admission, as the site's real proxy and its visitors meet them.

The site's Astro proxy posts `{message, history, sessionId}` with no API key and no
X-Forwarded-For, a fresh sessionId when the widget has none, and every visitor arrives from
its address. The token buckets run on a fake clock: minutes pass without sleeping.
"""

from __future__ import annotations

import asyncio

import anyio
import httpx
import pytest
from pydantic import SecretStr, ValidationError

import service
from pipeline.settings import Settings
from service.admission import FairPool
from service.limits import Limits
from tests.fakes import ScriptedEngine
from tests.servicekit import StreamingEngine, chat_body, fake_lm, make_workbench, planner_script, service_settings

pytestmark = pytest.mark.anyio

KEY = "proxy-secret-8c1f"
DEFAULTS = {name: Settings.model_fields[name].default
            for name in ("rate_limit_session", "rate_limit_ip", "rate_limit_site")}


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def workbench(mini_index, hash_embedder, tmp_path):
    return make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())),
                          service_settings(tmp_path))


def app_for(workbench, clock, **overrides):
    settings = workbench.settings.model_copy(update={**DEFAULTS, **overrides})
    return service.create_app(workbench, settings=settings, clock=clock)


def client_from(app, address: str, **kwargs) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 41234))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", **kwargs)


def forwarded(visitor: str) -> dict:
    return {"X-Forwarded-For": visitor}


# -- the site's unchanged proxy ---------------------------------------------------------------


async def test_a_whole_site_behind_the_unchanged_proxy_is_not_limited(workbench, clock):
    """10 visitors asking 10 questions a minute, for three minutes, all through one proxy on
    127.0.0.1 that sends no key, no X-Forwarded-For and no sessionId."""
    statuses: list[int] = []
    async with client_from(app_for(workbench, clock), "127.0.0.1") as proxy:
        for _ in range(3 * 10):  # every 6 s one question from each of the 10 visitors
            for visitor in range(10):
                response = await proxy.post("/api/chat", json={"message": f"Where did you study, {visitor}?",
                                                               "history": []})
                statuses.append(response.status_code)
                clock.now += 0.6
    assert len(statuses) == 300 and set(statuses) == {200}


async def test_forwarded_for_is_read_from_the_nearest_trusted_hop(workbench, clock):
    app = app_for(workbench, clock, rate_limit_ip=1, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    async with client_from(app, "127.0.0.1") as proxy:
        # the entry the trusted hops saw is the second from the right; the leftmost is the visitor's own
        assert (await proxy.post("/api/chat", json=chat_body(),
                                 headers=forwarded("198.51.100.66, 203.0.113.7, 10.1.2.3"))).status_code == 200
        spoofed = await proxy.post("/api/chat", json=chat_body(),
                                   headers=forwarded("6.6.6.6, 203.0.113.7, 10.1.2.3"))
        assert spoofed.status_code == 429 and "this address" in spoofed.json()["error"]
        assert (await proxy.post("/api/chat", json=chat_body(),
                                 headers=forwarded("203.0.113.8:5123, 10.1.2.3"))).status_code == 200
    # the same header from a caller nobody trusts is not believed: it has the site's budget
    async with client_from(app_for(workbench, clock, rate_limit_site=1), "192.0.2.50") as stranger:
        assert (await stranger.post("/api/chat", json=chat_body(), headers=forwarded("203.0.113.9"))).status_code == 200
        limited = await stranger.post("/api/chat", json=chat_body(), headers=forwarded("203.0.113.10"))
        assert limited.status_code == 429 and "all the visitors it forwards" in limited.json()["error"]


async def test_ipv6_visitors_are_grouped_by_their_64(workbench, clock):
    app = app_for(workbench, clock, rate_limit_ip=1, api_key=SecretStr(KEY))
    async with client_from(app, "127.0.0.1", headers={"X-API-Key": KEY}) as proxy:
        async def status(visitor):
            return (await proxy.post("/api/chat", json=chat_body(), headers=forwarded(visitor))).status_code

        assert await status("2001:db8:1:2::1") == 200
        assert await status("[2001:db8:1:2:ffff::9]:443") == 429  # the same /64
        assert await status("2001:db8:1:3::1") == 200  # the next /64
        assert await status("::ffff:203.0.113.5") == 200
        assert await status("203.0.113.5") == 429  # an IPv4-mapped address is that IPv4 address


async def test_failed_authentications_count_against_the_address(workbench, clock):
    app = app_for(workbench, clock, api_key=SecretStr(KEY))
    async with client_from(app, "192.0.2.10") as guesser:
        statuses = [(await guesser.post("/api/chat", json=chat_body(), headers={"X-API-Key": f"guess-{i}"})).status_code
                    for i in range(150)]
        assert statuses[:DEFAULTS["rate_limit_ip"]] == [401] * DEFAULTS["rate_limit_ip"]
        assert set(statuses[DEFAULTS["rate_limit_ip"]:]) == {429}
        no_key = await guesser.get("/api/chat")  # any method: a missing key is a failed authentication too
        assert no_key.status_code == 429 and int(no_key.headers["Retry-After"]) >= 1
    async with client_from(app, "127.0.0.1", headers={"X-API-Key": KEY}) as proxy:  # the real proxy is not
        assert (await proxy.post("/api/chat", json=chat_body())).status_code == 200


async def test_a_long_message_costs_more_of_the_budget(workbench, clock):
    app = app_for(workbench, clock, rate_limit_session=0, trusted_proxies="127.0.0.1")  # 60 a minute, 200 chars
    long = ("Tell me about the swarm robotics testbed and every paper about it. " * 30)[:2000]

    async def until_limited(visitor: str, message: str, history=None) -> int:
        for sent in range(100):
            response = await proxy.post("/api/chat", json=chat_body(message, history), headers=forwarded(visitor))
            if response.status_code == 429:
                return sent
        return sent + 1

    async with client_from(app, "127.0.0.1") as proxy:
        assert await until_limited("203.0.113.1", long) == 6  # 11 tokens each: the sixth goes into debt
        assert await until_limited("203.0.113.2", "Who advised you?") == 55  # 1.08 each
        earlier = [{"role": "user", "parts": [{"text": long}]}, {"role": "model", "parts": [{"text": "A reply."}]}]
        assert await until_limited("203.0.113.3", "And then?", earlier) == 6  # a follow-up carries the question
        clock.now += 30  # a token a second: the first visitor's debt (-6) is paid back, and some
        assert (await proxy.post("/api/chat", json=chat_body(), headers=forwarded("203.0.113.1"))).status_code == 200


def test_a_trusted_proxy_list_that_does_not_parse_is_refused():
    with pytest.raises(ValidationError, match="RAG_TRUSTED_PROXIES: 'example.com'"):
        Settings(_env_file=None, RAG_TRUSTED_PROXIES="10.0.0.0/8, example.com")


def test_a_hop_that_cannot_be_read_ends_what_is_believed():
    from starlette.datastructures import Headers

    limits = Limits(Settings(_env_file=None, RAG_TRUSTED_PROXIES="127.0.0.1"))
    scope = {"client": ("127.0.0.1", 1)}

    def who(xff):
        return limits.client(scope, Headers({"x-forwarded-for": xff}), authenticated=False)

    assert who("203.0.113.4, 127.0.0.1").address == "203.0.113.4"
    garbled = who("203.0.113.4, not-an-ip")
    assert garbled.address == "127.0.0.1" and not garbled.visitor  # the proxy's own, site-sized budget


# -- fair admission -----------------------------------------------------------------------------


async def test_a_clients_burst_queues_behind_itself(mini_index, hash_embedder, tmp_path, clock):
    """Two workers; one visitor sends four slow questions at once, another one question: the
    second visitor does not wait for the first one's burst."""
    engine = StreamingEngine(planner_script(), delay=0.3)  # two LM calls: ~0.6 s a question
    settings = service_settings(tmp_path, worker_threads=2, client_concurrency=1, lm_queue_depth=8,
                                trusted_proxies="127.0.0.1")
    app = service.create_app(make_workbench(mini_index, hash_embedder, fake_lm(engine), settings), clock=clock)
    finished: list[str] = []
    async with client_from(app, "127.0.0.1", timeout=60) as proxy:
        async def ask(who: str, visitor: str, delay: float):
            await anyio.sleep(delay)
            response = await proxy.post("/api/chat", json=chat_body(), headers=forwarded(visitor))
            assert response.status_code == 200
            finished.append(who)

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(ask, f"noisy {i}", "203.0.113.1", 0)
            tg.start_soon(ask, "victim", "203.0.113.2", 0.1)
    assert finished.index("victim") <= 1, finished  # after at most the noisy one that was already running


async def test_a_client_beyond_its_queue_gets_429_and_others_do_not(mini_index, hash_embedder, tmp_path, clock):
    engine = StreamingEngine(planner_script(), delay=0.3)
    settings = service_settings(tmp_path, worker_threads=2, client_concurrency=1, client_queue_depth=1,
                                trusted_proxies="127.0.0.1")
    app = service.create_app(make_workbench(mini_index, hash_embedder, fake_lm(engine), settings), clock=clock)
    statuses: dict[str, list[int]] = {"noisy": [], "other": []}
    async with client_from(app, "127.0.0.1", timeout=60) as proxy:
        async def ask(who: str, visitor: str, delay: float):
            await anyio.sleep(delay)
            response = await proxy.post("/api/chat", json=chat_body(), headers=forwarded(visitor))
            statuses[who].append(response.status_code)
            if response.status_code == 429:
                assert "at once from this client" in response.json()["error"] and response.headers["Retry-After"]

        async with anyio.create_task_group() as tg:
            for i in range(3):  # one runs, one waits, one is turned away
                tg.start_soon(ask, "noisy", "203.0.113.1", i * 0.05)
            tg.start_soon(ask, "other", "203.0.113.2", 0.2)
    assert sorted(statuses["noisy"]) == [200, 200, 429] and statuses["other"] == [200]


async def test_the_fair_pool_goes_round_robin_and_loses_no_worker_to_a_cancelled_wait():
    pool = FairPool(workers=1, per_client=1)
    order: list[str] = []
    await pool.acquire("a")  # a holds the only worker

    async def wait(key: str):
        await pool.acquire(key)
        order.append(key)

    tasks = [asyncio.create_task(wait(k)) for k in ("a", "a", "b", "c")]
    gone = asyncio.create_task(wait("d"))
    await asyncio.sleep(0)
    gone.cancel()  # d gives up waiting
    await asyncio.sleep(0)
    for _ in range(4):
        pool.release(order[-1] if order else "a")
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c", "a"]  # a's second waits its turn behind b and c
    pool.release("a")
    assert pool.busy == 0 and not pool._waiting and not pool._running


async def test_a_body_sent_byte_by_byte_is_cut_off_with_408():
    """A slow sender holds a connection and a worker's place only for RAG_BODY_TIMEOUT_S."""
    from service.guard import Guard

    reached = []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    settings = Settings(body_timeout_s=0.2, rate_limit_ip=0, rate_limit_session=0)
    guard = Guard(app, settings, Limits(settings))
    pieces = iter([b'{"mess', b'age": "hi"}'])

    async def receive():
        await asyncio.sleep(0.15)  # each piece arrives slowly; together past the deadline
        piece = next(pieces, b"")
        return {"type": "http.request", "body": piece, "more_body": piece != b""}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": [(b"content-type", b"application/json")],
             "client": ("127.0.0.1", 5000), "query_string": b""}
    await guard(scope, receive, send)
    assert sent[0]["status"] == 408 and b"took longer than 0.2 s" in sent[1]["body"]
    assert not reached  # the route never saw it
