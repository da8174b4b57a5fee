"""Idempotency keys: a client that repeats a request with the same Idempotency-Key gets
the first answer again instead of a second effect.

The first request inserts the key (unique constraint) with status 0 and runs; when it
finishes, its status and JSON answer are stored. A repeat finds the row: the stored
answer when there is one, 409 while the first is still running. The database decides,
so this holds across workers.

A key is bound to the request it first came with, as Stripe does: the record keeps a
SHA-256 of the request (operation and canonical JSON body), and a repeat with the same
key but a different request is refused with 422 instead of being answered with the
first one's result. (The hash rides in the record's JSON column next to the answer,
{"request": hash, "answer": {...}}, so no schema change is needed.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fingerpos.cloud.core.errors import Conflict, DomainError, Invalid
from fingerpos.cloud.models.commerce import IdempotencyRecord
from tortoise.exceptions import IntegrityError

HEADER = "Idempotency-Key"
MAX_KEY = 100
Answer = tuple[int, dict[str, Any]]


class KeyReused(DomainError):
    status, code = 422, "idempotency_key_reused"


def fingerprint(*parts: Any) -> str:
    """A hash of what the request asks for (canonical JSON of `parts`)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise Invalid(f"{HEADER} must be 1-{MAX_KEY} printable ASCII characters")
    return key


async def once(key: str | None, scope: str, run: Callable[[], Awaitable[Answer]],
               request: str = "") -> Answer:
    """Run `run` once per (scope, key); replay its stored answer for repeats of the same
    request (`request` is its `fingerprint`); a different request with the key is a 422."""
    key = check_key(key)
    if key is None:
        return await run()
    full = f"{scope}:{key}"[:200]
    try:
        record = await IdempotencyRecord.create(key=full, status=0,
                                                response={"request": request})
    except IntegrityError:
        record = await IdempotencyRecord.get(key=full)
        stored = record.response if isinstance(record.response, dict) else {}
        if "request" in stored and stored["request"] != request:
            raise KeyReused(f"this {HEADER} was used with a different request; use a new "
                            "key for a new request") from None
        if record.status == 0:
            raise Conflict(f"a request with this {HEADER} is still being processed") from None
        return record.status, stored.get("answer", stored) if "request" in stored else stored
    try:
        status, answer = await run()
    except DomainError as e:
        status, answer = e.status, {"error": e.code, "message": e.message}
        await IdempotencyRecord.filter(id=record.id).update(
            status=status, response={"request": request, "answer": answer})
        raise
    except BaseException:
        await IdempotencyRecord.filter(id=record.id).delete()  # let the client retry
        raise
    await IdempotencyRecord.filter(id=record.id).update(
        status=status, response={"request": request, "answer": answer})
    return status, answer
