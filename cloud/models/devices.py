"""Terminals and what they send: Device, DeviceEvent, CommandSeq (tortoise models).

Owned by the ingestion side (cloud/ingest, cloud/fleet/commands.py). Exactly-once
storage rests on DeviceEvent's UNIQUE(device, seq); the ingestion writes
events with raw multi-row INSERT ... ON CONFLICT DO NOTHING for speed, so the
table and column names here are part of its SQL (cloud/ingest/store.py).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Device(Model):
    """A registered terminal. `key_enc` is the 32-byte device key, encrypted
    with the cloud's secret (the cipher lives with the app's config)."""

    id = fields.CharField(max_length=32, primary_key=True)
    shop = fields.CharField(max_length=64, db_index=True)  # the shop's reference
    key_enc = fields.TextField()
    fw = fields.CharField(max_length=32, null=True)
    online = fields.BooleanField(default=False)
    last_seen = fields.DatetimeField(null=True)
    # Figures of the last heartbeat.
    uptime = fields.BigIntField(null=True)
    heap_free = fields.IntField(null=True)
    rssi = fields.IntField(null=True)
    outbox = fields.IntField(null=True)
    # Highest seq up to which every event of this device is stored: what the
    # last `ack` carried, and where the seq tracker restarts after a reboot.
    acked = fields.BigIntField(default=0)
    revoked = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    # What its receipt printer prints (cloud/commerce/receipts.py CHARSETS): "gb18030"
    # for a CJK model in Chinese mode, "ascii" for any other ESC/POS printer.
    printer_charset = fields.CharField(max_length=16, default="ascii")
    # DeviceKeysVersion.version when its key or revocation last changed: what the
    # ingestion workers' caches compare against (cloud/fleet/registry.py).
    keys_version = fields.BigIntField(default=0, db_index=True)
    # What people call it at the counter ("收银台 1"); the id stays the technical name.
    name = fields.CharField(max_length=64, default="", db_default="")
    # The settings a manager pushed (cloud/fleet/actions.py SETTINGS): sent in a `config`
    # command at once and again each time the terminal comes online, so an offline terminal
    # still gets them.
    settings = fields.JSONField(default=dict, db_default="{}")

    class Meta:
        table = "device"

    def __str__(self) -> str:
        return self.id


class DeviceEvent(Model):
    """One signed event, stored exactly once per (device, seq)."""

    id = fields.BigIntField(primary_key=True)
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="events", on_delete=fields.CASCADE)
    seq = fields.BigIntField()
    typ = fields.CharField(max_length=16)
    ts = fields.BigIntField()  # the terminal's clock (0 = unset)
    body = fields.JSONField()  # the parsed body's `data`
    hash = fields.CharField(max_length=32)  # chain hash of the raw body bytes
    # The exact body text and its signature as received, so validation before
    # print can verify the source event again (JSONB re-serialises `body`).
    raw_body = fields.TextField(null=True)
    sig = fields.CharField(max_length=64, null=True)
    prev = fields.CharField(max_length=32)
    received_at = fields.FloatField()  # unix seconds when the cloud got it

    class Meta:
        table = "device_event"
        unique_together = (("device", "seq"),)
        indexes = (("typ", "id"),)


class CommandSeq(Model):
    """Per-device command counter and chain head, allocated atomically
    (UPDATE ... RETURNING inside a transaction), so several workers never
    hand out the same seq."""

    device_id = fields.CharField(max_length=32, primary_key=True)
    seq = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=32, default="")  # `prev` of the next command

    class Meta:
        table = "command_seq"


class DeviceKeysVersion(Model):
    """One row (id 1): bumped, row-locked, by every key rotation, revocation and
    registration, so the workers see in one primary-key read whether their cached
    keys are stale (cloud/fleet/registry.py says why not LISTEN/NOTIFY)."""

    id = fields.IntField(primary_key=True)
    version = fields.BigIntField(default=0)

    class Meta:
        table = "device_keys_version"
