"""`fingerpos protocol verify|vectors`: check a captured message or the shipped vectors."""

from __future__ import annotations

import argparse
import json
import sys

from fingerpos import protocol
from fingerpos.tools import vectors


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protocol", help="check signed messages and the protocol test vectors")
    ps = p.add_subparsers(dest="protocol_command", metavar="ACTION", required=True)
    v = ps.add_parser("verify", help="verify one captured payload (reads it from stdin)")
    v.add_argument("--key", required=True, help="the device key, 64 hex characters")
    v.add_argument("--topic", required=True, help="the topic it arrived on")
    v.set_defaults(func=_verify)
    t = ps.add_parser("vectors", help="run the shipped test vectors against this implementation")
    t.set_defaults(func=_vectors)


def _verify(args: argparse.Namespace) -> int:
    try:
        key = bytes.fromhex(args.key)
    except ValueError:
        print("error: --key must be 64 hex characters", file=sys.stderr)
        return 2
    payload = sys.stdin.buffer.read()
    if payload.endswith(b"\n") and len(payload) >= 66 and payload[-66:-65] == b"\n":
        payload = payload[:-1]  # a shell's trailing newline
    try:
        body = protocol.verify(key, args.topic, payload)
    except (protocol.ProtocolError, ValueError) as e:
        code = getattr(e, "code", "bad_key")
        print(f"rejected ({code}): {e}", file=sys.stderr)
        return 1
    print(json.dumps(body, ensure_ascii=False, indent=1))
    return 0


def _vectors(args: argparse.Namespace) -> int:
    passed = failed = 0
    for name, problem in vectors.run_all():
        if problem:
            failed += 1
            print(f"FAIL {name}: {problem}")
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
