"""The database-backed throttle: one budget across workers, atomic counts, windows that end,
and pruning of ended windows."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fingerpos.cloud.accounts.throttle import Throttle
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.errors import Throttled
from fingerpos.cloud.models.throttle import ThrottleWindow

from .conftest import CloudHarness, in_app

pytestmark = pytest.mark.cloud
LOGIN = "/api/v1/auth/login"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_login_limit_holds_across_two_workers_on_one_database(aiohttp_client,
                                                                        cloud_config):
    """Two apps (as two worker processes would be) on one database share one budget."""
    a = CloudHarness(await aiohttp_client(create_app(cloud_config)))
    b = CloudHarness(await aiohttp_client(create_app(dataclasses.replace(cloud_config))))
    limit = cloud_config.login_max_failures
    r = await a.client.post("/api/v1/auth/register", json={"email": "w@example.com",
                                                           "password": "rightpassword"})
    assert r.status == 201
    for n in range(limit):                       # alternate workers: A, B, A, B, ...
        worker = (a, b)[n % 2]
        r = await worker.client.post(LOGIN, json={"email": "w@example.com", "password": "bad"})
        assert r.status == 401, n
    for worker in (a, b):                        # each alone saw fewer than `limit` failures
        r = await worker.client.post(LOGIN, json={"email": "w@example.com",
                                                  "password": "rightpassword"})
        assert r.status == 429 and (await r.json())["error"] == "throttled"
    # Another address (or another email) has its own budget.
    r = await b.client.post(LOGIN, json={"email": "x@example.com", "password": "whatever1"})
    assert r.status == 401


async def test_concurrent_hits_are_each_counted_once(cloud):
    throttle = Throttle("test", 1000, 60, "slow down")
    with in_app(cloud.app):
        counts = await asyncio.gather(*[throttle.hit("k") for _ in range(30)])
        assert sorted(counts) == list(range(1, 31))
        assert await throttle.count("k") == 30


async def test_a_window_ends_and_a_success_clears_it(cloud):
    clock = Clock()
    throttle = Throttle("test", 3, 60, "slow down", clock=clock)
    with in_app(cloud.app):
        for expected in (1, 2, 3):
            assert await throttle.hit("ann", "10.0.0.1") == expected
        with pytest.raises(Throttled, match="slow down"):
            await throttle.check("ann", "10.0.0.1")
        await throttle.check("ann", "10.0.0.2")             # other key, own budget
        clock.now += 59
        with pytest.raises(Throttled):
            await throttle.check("ann", "10.0.0.1")
        clock.now += 2                                      # the window has ended
        await throttle.check("ann", "10.0.0.1")
        assert await throttle.hit("ann", "10.0.0.1") == 1   # and a new one starts at 1
        await throttle.clear("ann", "10.0.0.1")
        assert await throttle.count("ann", "10.0.0.1") == 0


async def test_ended_windows_are_pruned_and_no_email_is_stored(cloud):
    clock = Clock()
    old = Throttle("old", 5, 10, "x", clock=clock)
    live = Throttle("live", 5, 3600, "x", clock=clock)
    with in_app(cloud.app):
        for n in range(4):
            await old.hit(f"user{n}@example.com", "10.0.0.9")
        await live.hit("keep@example.com", "10.0.0.9")
        clock.now += 11
        assert await live.prune() == 4                      # any kind's ended windows go
        keys = [w.key for w in await ThrottleWindow.all()]
        assert keys == [live.key("keep@example.com", "10.0.0.9")]
        assert keys[0].startswith("live:") and "@" not in keys[0]
        # A hit prunes by itself once a minute.
        for n in range(3):
            await old.hit(f"again{n}@example.com", "10.0.0.9")
        clock.now += 61
        await live.hit("keep@example.com", "10.0.0.9")
        assert await ThrottleWindow.filter(key__startswith="old:").count() == 0


def test_a_throttle_needs_sane_limits():
    for kind, limit, window in (("", 1, 1), ("a:b", 1, 1), ("ok", 0, 1), ("ok", 1, 0)):
        with pytest.raises(ValueError):
            Throttle(kind, limit, window, "x")
