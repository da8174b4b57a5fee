"""Load and check protocol/vectors/*.json against the CPython implementation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fingerpos import protocol

VECTOR_DIR = Path(protocol.__file__).resolve().parent / "vectors"


def load() -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(VECTOR_DIR.glob("*.json"))]


def check(v: dict) -> str | None:
    """Run one vector. Returns None when it behaves as recorded, else what differed."""
    key = bytes.fromhex(v["key"])
    payload = bytes.fromhex(v["payload_hex"])
    want = v["expect"]
    try:
        body = protocol.verify(key, v["topic"], payload)
        last = v.get("receiver", {}).get("last_seq")
        if last is not None:
            protocol.check_fresh(body["seq"], last)
    except protocol.ProtocolError as e:
        if want.get("error") == e.code:
            return None
        return f"raised {e.code} ({e}), expected {want}"
    if not want.get("ok"):
        return f"accepted, expected error {want.get('error')}"
    if body != want["body"]:
        return "parsed body differs"
    body_bytes, _ = protocol.split(payload)
    if protocol.sign(key, v["topic"], body_bytes) != payload:
        return "re-signing the body does not give the same payload"
    return None


def run_all() -> Iterator[tuple[str, str | None]]:
    for v in load():
        yield v["name"], check(v)
