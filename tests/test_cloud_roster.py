"""Rosters: finger slots from `enrol` events, PINs as hashes keyed per terminal."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fingerpos import protocol
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.errors import Invalid, NotFound
from fingerpos.cloud.fleet.roster import record_enrolment, roster_of, set_pin
from fingerpos.cloud.models.users import FingerSlot, User
from fingerpos.tools.fleet import SimTerminal

from .conftest import CloudHarness, in_app
from .test_cloud_cli import run

pytestmark = pytest.mark.cloud


def _uid(headers: dict[str, str]) -> int:
    return int(headers["X-User-Id"])


async def test_roster_carries_slots_keyed_pins_and_rights(cloud):
    key1 = await cloud.device("r1", "shop1")
    key2 = await cloud.device("r2", "shop1")
    seller = _uid(await cloud.user("seller", shop="shop1", can_change_price=True))
    manager = _uid(await cloud.user("manager", shop="shop1"))
    plain = _uid(await cloud.user("seller", shop="shop1"))
    await cloud.user("buyer")
    ring = cloud.app[KEYRING]
    with in_app(cloud.app):
        await set_pin(await User.get(id=seller), "4821", ring)
        await record_enrolment("r1", 10, {"seller": str(seller), "slot": 3})
        await record_enrolment("r1", 11, {"seller": manager, "slot": 4})
        r1 = {s["id"]: s for s in (await roster_of("r1", ring))["sellers"]}
        r2 = {s["id"]: s for s in (await roster_of("r2", ring))["sellers"]}
        sealed = (await User.get(id=seller)).pin_sealed
    assert set(r1) == {str(seller), str(manager), str(plain)}  # staff only, no buyer
    s = r1[str(seller)]
    assert s["slots"] == [3] and s["price"] is True and s["manager"] is False
    assert s["pin"] == protocol.pin_hash(key1, str(seller), "4821")
    assert r2[str(seller)]["pin"] == protocol.pin_hash(key2, str(seller), "4821") != s["pin"]
    assert r2[str(seller)]["slots"] == []          # enrolment is per terminal's sensor
    assert r1[str(manager)] | {"slots": None} == {"id": str(manager), "name": "", "slots": None,
                                                  "pin": "", "manager": True, "price": True}
    assert r1[str(plain)]["price"] is False
    assert "4821" not in sealed                    # sealed, never in clear


async def test_a_reused_slot_belongs_to_the_new_seller(cloud):
    await cloud.device("r1", "shop1")
    a = _uid(await cloud.user("seller", shop="shop1"))
    b = _uid(await cloud.user("seller", shop="shop1"))
    with in_app(cloud.app):
        await record_enrolment("r1", 1, {"seller": a, "slot": 7})
        await record_enrolment("r1", 2, {"seller": b, "slot": 7})
        assert [(f.user_id, f.slot) for f in await FingerSlot.filter(device="r1")] == [(b, 7)]


@pytest.mark.parametrize("data", [None, [], {}, {"seller": 1}, {"seller": 1, "slot": -1},
                                  {"seller": 1, "slot": 10**6}, {"seller": "x", "slot": 1},
                                  {"seller": True, "slot": 1}, {"seller": 1, "slot": 1.0}])
async def test_bad_enrol_data_is_refused(cloud, data):
    await cloud.device("r1", "shop1")
    with in_app(cloud.app), pytest.raises(Invalid):
        await record_enrolment("r1", 1, data)


async def test_enrolment_of_someone_from_another_shop_is_refused(cloud):
    await cloud.device("r1", "shop1")
    await cloud.device("o1", "shop2")
    other = _uid(await cloud.user("seller", shop="shop2"))
    buyer = _uid(await cloud.user("buyer"))
    with in_app(cloud.app):
        for who in (other, buyer, 999_999):
            with pytest.raises(NotFound):
                await record_enrolment("r1", 1, {"seller": who, "slot": 1})
        assert await FingerSlot.all().count() == 0


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", "١٢٣٤"])
async def test_bad_pins_are_refused(cloud, pin):
    await cloud.device("r1", "shop1")
    seller = _uid(await cloud.user("seller", shop="shop1"))
    with in_app(cloud.app), pytest.raises(Invalid, match="4 to 8 digits"):
        await set_pin(await User.get(id=seller), pin, cloud.app[KEYRING])


async def test_a_buyer_gets_no_pin(cloud):
    buyer = _uid(await cloud.user("buyer"))
    with in_app(cloud.app), pytest.raises(Invalid, match="sellers and managers"):
        await set_pin(await User.get(id=buyer), "1234", cloud.app[KEYRING])


async def test_enrol_event_through_mosquitto_reaches_the_next_roster(aiohttp_client, cloud_config,
                                                                     broker, topic_prefix):
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    dev = topic_prefix + "e"
    key = await cloud.device(dev, "shop1")
    seller = _uid(await cloud.user("seller", shop="shop1"))
    t = SimTerminal(dev, key, broker.url)
    await t.start()
    t.emit("enrol", {"seller": str(seller), "slot": 5})
    await t.drained(timeout=20)
    await t.stop()
    t = SimTerminal(dev, key, broker.url)   # comes online again: a fresh roster
    await t.start()
    async with asyncio.timeout(15):
        while not any(c["typ"] == "roster" for c in t.commands):
            await asyncio.sleep(0.05)
    roster = next(c for c in t.commands if c["typ"] == "roster")["data"]
    assert {"id": str(seller), "slots": [5]}.items() <= roster["sellers"][0].items()
    await t.stop()


def test_cli_pin_errors_are_one_line(tmp_path):
    assert run("migrate", data_dir=tmp_path).returncode == 0
    r = run("user", "pin", "--email", "nobody@example.com", "--pin-stdin", data_dir=tmp_path,
            stdin="1234\n")
    assert r.returncode == 1 and "no user" in r.stderr and r.stderr.count("\n") == 1
    r = run("user", "create", "--email", "b@example.com", "--role", "buyer", "--password-stdin",
            data_dir=tmp_path, stdin="longpassword\n")
    assert r.returncode == 0
    r = run("user", "pin", "--email", "b@example.com", "--pin-stdin", data_dir=tmp_path,
            stdin="1234\n")
    assert r.returncode == 1 and "sellers and managers" in r.stderr


def test_cli_sets_a_sealed_pin(tmp_path):
    assert run("migrate", data_dir=tmp_path).returncode == 0
    r = run("user", "create", "--email", "s@example.com", "--role", "seller", "--shop", "shop1",
            "--password-stdin", data_dir=tmp_path, stdin="longpassword\n")
    assert r.returncode == 0, r.stderr
    r = run("user", "pin", "--email", "S@example.com", "--pin-stdin", data_dir=tmp_path,
            stdin="4821\n")
    assert r.returncode == 0 and "PIN set for" in r.stderr
    import sqlite3
    with sqlite3.connect(tmp_path / "fingerpos.sqlite3") as con:
        (sealed,) = con.execute("SELECT pin_sealed FROM users WHERE email='s@example.com'").fetchone()
    assert sealed.startswith("v1:") and "4821" not in sealed
    r = run("user", "pin", "--email", "s@example.com", "--pin-stdin", data_dir=tmp_path,
            stdin="48\n")
    assert r.returncode == 1 and "4 to 8 digits" in r.stderr and r.stderr.count("\n") == 1
