"""Idempotency keys: a client that repeats a request with the same Idempotency-Key gets
the first answer again instead of a second effect.

The first request inserts the key (unique constraint) with status 0 and runs; when it
finishes, its status and JSON answer are stored. A repeat finds the row: the stored
answer when there is one, 409 while the first is still running. The database decides,
so this holds across workers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fingerpos.cloud.errors import Conflict, DomainError, Invalid
from fingerpos.cloud.models.commerce import IdempotencyRecord
from tortoise.exceptions import IntegrityError

HEADER = "Idempotency-Key"
MAX_KEY = 100
Answer = tuple[int, dict[str, Any]]


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise Invalid(f"{HEADER} must be 1-{MAX_KEY} printable ASCII characters")
    return key


async def once(key: str | None, scope: str, run: Callable[[], Awaitable[Answer]]) -> Answer:
    """Run `run` once per (scope, key); replay its stored answer for repeats."""
    key = check_key(key)
    if key is None:
        return await run()
    full = f"{scope}:{key}"[:200]
    try:
        record = await IdempotencyRecord.create(key=full, status=0)
    except IntegrityError:
        record = await IdempotencyRecord.get(key=full)
        if record.status == 0:
            raise Conflict(f"a request with this {HEADER} is still being processed") from None
        return record.status, record.response or {}
    try:
        status, answer = await run()
    except DomainError as e:
        status, answer = e.status, {"error": e.code, "message": e.message}
        await IdempotencyRecord.filter(id=record.id).update(status=status, response=answer)
        raise
    except BaseException:
        await IdempotencyRecord.filter(id=record.id).delete()  # let the client retry
        raise
    await IdempotencyRecord.filter(id=record.id).update(status=status, response=answer)
    return status, answer
