"""Terminal registry: registration (keys encrypted at rest), duplicates, roles, revoke, rotate."""

from __future__ import annotations

import os

import pytest
from fingerpos.cloud.core.appkeys import KEYRING
from fingerpos.cloud.core.keyring import DeviceKeyring, KeyringError
from fingerpos.cloud.models.alarms import AuditEntry
from fingerpos.cloud.models.devices import Device

from .conftest import in_app

pytestmark = pytest.mark.cloud


async def test_register_stores_the_key_encrypted(cloud):
    key = os.urandom(32)
    admin = await cloud.admin()
    r = await cloud.client.post("/api/v1/devices", headers=admin,
                                json={"id": "t1", "shop": "shop1", "key": key.hex()})
    assert r.status == 201 and await r.json() == {"id": "t1", "shop": "shop1"}
    with in_app(cloud.app):
        device = await Device.get(id="t1")
        assert key.hex() not in device.key_enc and key not in device.key_enc.encode()
        assert cloud.app[KEYRING].open(device.key_enc, "t1") == key
        with pytest.raises(KeyringError):          # bound to its device id
            cloud.app[KEYRING].open(device.key_enc, "t2")
        with pytest.raises(KeyringError):          # and to the cloud's secret
            DeviceKeyring("another-secret-0123456789").open(device.key_enc, "t1")
        assert await AuditEntry.filter(action="device.register", target="device:t1").exists()
    r = await cloud.client.post("/api/v1/devices", headers=admin,
                                json={"id": "t1", "shop": "shop1", "key": key.hex()})
    assert r.status == 409 and (await r.json())["error"] == "conflict"


@pytest.mark.parametrize("body", [
    {"id": "t 1", "shop": "s", "key": "0" * 64}, {"id": "t1", "shop": "s", "key": "0" * 63},
    {"id": "t1", "shop": "s", "key": "G" * 64}, {"id": "x" * 33, "shop": "s", "key": "0" * 64},
    {"id": "t1", "shop": "", "key": "0" * 64}, {"id": "t1", "shop": "s"},
])
async def test_bad_registrations_are_400(cloud, body):
    r = await cloud.client.post("/api/v1/devices", headers=await cloud.admin(), json=body)
    assert r.status == 400


async def test_roles_and_shops(cloud):
    body = {"id": "t1", "shop": "shop1", "key": "a" * 64}
    assert (await cloud.client.post("/api/v1/devices", json=body)).status == 401
    for headers in (await cloud.user(), await cloud.user("seller", shop="shop1"),
                    await cloud.user("manager", shop="shop2")):
        assert (await cloud.client.post("/api/v1/devices", headers=headers, json=body)).status == 403
    manager = await cloud.user("manager", shop="shop1")
    assert (await cloud.client.post("/api/v1/devices", headers=manager, json=body)).status == 201
    other = await cloud.user("manager", shop="shop2")
    r = await cloud.client.post("/api/v1/devices/t1/revoke", headers=other)
    assert r.status == 404
    listed = await (await cloud.client.get("/api/v1/devices", headers=other)).json()
    assert listed == {"devices": []}


async def test_revoke_and_rotate(cloud):
    await cloud.device("t1", "shop1")
    admin = await cloud.admin()
    r = await cloud.client.post("/api/v1/devices/t1/revoke", headers=admin)
    assert (await r.json())["revoked"] is True
    new = os.urandom(32)
    r = await cloud.client.post("/api/v1/devices/t1/rotate", headers=admin, json={"key": new.hex()})
    assert r.status == 200 and (await r.json())["revoked"] is False
    with in_app(cloud.app):
        assert cloud.app[KEYRING].open((await Device.get(id="t1")).key_enc, "t1") == new
    assert (await cloud.client.post("/api/v1/devices/nope/revoke", headers=admin)).status == 404
