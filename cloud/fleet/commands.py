"""CommandSender: signed commands to terminals, with per-device atomic seq.

A terminal refuses any command whose seq is not above the last one it
accepted, so two workers must never hand out the same seq: the counter lives
in the database (command_seq) and is advanced with UPDATE ... RETURNING
inside a transaction, which row-locks it (PostgreSQL) or holds the write lock
(SQLite) until commit. The row also keeps the chain head, the `prev` of the
next command. Publishing happens only after the commit.

    seq = await sender.send("t1", "order_new", {...})   # the order engine's entry
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fingerpos import protocol
from fingerpos.cloud.core.sql import dialect, q, rows_marks
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.protocol.host import seal
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

Publish = Callable[[str, bytes], None]
Sealed = list[tuple[str, bytes]]


class UnknownDevice(LookupError):
    """No such device, or it is revoked: nothing is sent."""


class CommandSender:
    def __init__(self, registry: DeviceRegistry, publish: Publish) -> None:
        self.registry = registry
        self.publish = publish
        self._has_row: set[str] = set()

    async def send(self, device_id: str, typ: str, data: dict) -> int:
        """Sign and publish one command (QoS 1). Returns its seq.

        Raises: UnknownDevice; protocol.Malformed / TooLarge for a bad command.
        """
        if typ not in protocol.COMMAND_TYPES:
            raise protocol.Malformed(f"{typ!r} is not a command type")
        async with in_transaction() as conn:
            sealed, seqs = await self.seal_many(conn, [(device_id, typ, data)])
        self.publish_all(sealed)
        return seqs[0]

    def publish_all(self, sealed: Sealed) -> None:
        for topic, payload in sealed:
            self.publish(topic, payload)

    async def seal_many(self, conn: BaseDBAsyncClient | None,
                        items: list[tuple[str, str, dict]],
                        skip_unknown: bool = False) -> tuple[Sealed, list[int]]:
        """Allocate seqs and sign `items` (device, typ, data) inside the caller's
        transaction `conn`. Publish the result only after that transaction commits.

        Returns: ([(topic, payload)], [seq]) in the order of `items`.
        Raises: UnknownDevice, unless `skip_unknown` (then such items are left out).
        """
        conn = conn or connections.get("default")
        d = dialect(conn)
        await self.registry.refresh()  # never sign with a key another worker replaced
        keys: dict[str, bytes] = {}
        for dev, _typ, _data in items:
            if dev not in keys:
                st = self.registry.cached(dev) or await self.registry.load(dev)
                if st is None or st.revoked:
                    if skip_unknown:
                        continue
                    raise UnknownDevice(f"device {dev!r} is not registered or is revoked")
                keys[dev] = st.key
        items = [it for it in items if it[0] in keys]
        if not items:
            return [], []
        new = sorted({dev for dev, _, _ in items} - self._has_row)
        if new:
            await conn.execute_query(
                q(d, "INSERT INTO command_seq (device_id, seq, hash) VALUES "
                  + rows_marks(d, len(new), 3) + " ON CONFLICT (device_id) DO NOTHING"),
                [v for dev in new for v in (dev, 0, "")])
        sealed: list[tuple[str, bytes] | None] = [None] * len(items)
        seqs = [0] * len(items)
        pending = list(range(len(items)))
        while pending:  # one round per command of the same device
            round_, later, seen = [], [], set()
            for i in pending:
                (later if items[i][0] in seen else round_).append(i)
                seen.add(items[i][0])
            devs = [items[i][0] for i in round_]
            # execute_query_dict: tortoise's asyncpg execute_query drops RETURNING rows.
            rows = await conn.execute_query_dict(
                q(d, "UPDATE command_seq SET seq = seq + 1 WHERE device_id IN ("
                  + ",".join("?" * len(devs)) + ") RETURNING device_id, seq, hash"), devs)
            head = {r["device_id"]: (r["seq"], r["hash"]) for r in rows}
            missing = [dev for dev in devs if dev not in head]
            if missing:  # a rolled-back transaction took the counter row with it
                if not self._has_row.intersection(missing):
                    raise RuntimeError(f"command_seq has no row for {missing} after inserting it")
                self._has_row.difference_update(missing)
                return await self.seal_many(conn, items, skip_unknown)
            updates = []
            now = int(time.time())
            for i in round_:
                dev, typ, data = items[i]
                seq, prev = head[dev]
                topic, payload, h = seal(keys[dev], dev, protocol.CMD, seq, now,
                                                  typ, prev, data)
                sealed[i], seqs[i] = (topic, payload), seq
                updates.append([h, dev])
            await conn.execute_many(q(d, "UPDATE command_seq SET hash = ? WHERE device_id = ?"),
                                    updates)
            pending = later
        self._has_row.update(new)
        return [s for s in sealed if s is not None], seqs
