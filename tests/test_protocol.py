"""protocol/: HMAC, framing, body rules, topics and the receiver's chain tracker."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fingerpos import protocol as p
from fingerpos.protocol import chain, equal, hmac_sha256
from fingerpos.protocol.host import BY_CODE, seal
from fingerpos.protocol.subscriptions import EVT_FILTER, STATUS_FILTER, shared
from hypothesis import given, settings
from hypothesis import strategies as st

KEY = bytes(range(32))
TS = 1_790_000_000


@given(st.binary(max_size=200), st.binary(max_size=3000))
@settings(max_examples=300)
def test_hmac_equals_stdlib(key, msg):
    assert hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


@given(st.binary(min_size=0, max_size=80), st.binary(min_size=0, max_size=80))
def test_equal_matches_plain_comparison(a, b):
    assert equal(a, b) == (a == b)


def _valid_payloads():
    data = st.dictionaries(st.text(max_size=8), st.one_of(st.integers(-10**9, 10**9),
                                                          st.text(max_size=40), st.booleans()),
                           max_size=6)
    return st.builds(
        lambda dev, seq, typ, d: seal(KEY, dev, p.EVT, seq, TS, typ, "", d),
        st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
        st.integers(1, p.MAX_SEQ), st.sampled_from(p.EVENT_TYPES), data)


@given(_valid_payloads(), st.data())
@settings(max_examples=400)
def test_any_flipped_byte_is_rejected(sealed, data):
    topic, payload, _ = sealed
    assert p.verify(KEY, topic, payload)["typ"]
    i = data.draw(st.integers(0, len(payload) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(payload)
    bad[i] ^= flip
    with pytest.raises(p.ProtocolError):
        p.verify(KEY, topic, bytes(bad))


@given(_valid_payloads())
def test_roundtrip(sealed):
    topic, payload, h = sealed
    body = p.verify(KEY, topic, payload)
    assert p.chain_hash(p.split(payload)[0]) == h
    assert p.parse_topic(topic) == (body["dev"], "evt")


def test_make_body_field_order_and_compactness():
    body = p.make_body("t1", 3, 0, "sale", "", {"ref": "é"})
    assert body == '{"v":1,"dev":"t1","seq":3,"ts":0,"typ":"sale","prev":"","data":{"ref":"é"}}'.encode()


@pytest.mark.parametrize("kw, message", [
    ({"seq": 0}, "seq"), ({"ts": -1}, "ts"), ({"typ": "lock"}, "typ"),
    ({"prev": "ABC"}, "prev"), ({"data": []}, "data"), ({"dev": "a/b"}, "device id"),
])
def test_make_body_refuses_bad_fields_with_a_clear_message(kw, message):
    args = {"dev": "t1", "seq": 1, "ts": 0, "typ": "boot", "prev": "", "data": {}} | kw
    with pytest.raises(p.Malformed, match=message):
        p.make_body(**args)


def test_make_body_refuses_oversize():
    with pytest.raises(p.TooLarge, match="4096"):
        p.make_body("t1", 1, 0, "boot", "", {"x": "y" * 5000})


def test_error_family_codes_are_distinct_and_catchable():
    codes = {cls.code for cls in BY_CODE.values()}
    assert len(codes) == len(BY_CODE) == 6
    for cls in BY_CODE.values():
        assert issubclass(cls, p.ProtocolError)
    assert issubclass(p.Unsigned, p.BadSignature)


def test_wrong_key_length_is_a_clear_error():
    with pytest.raises(ValueError, match="32 bytes"):
        p.sign(b"short", "fp/v1/dev/t1/evt", b"{}")


def test_status_topic_is_not_a_signed_body():
    with pytest.raises(p.Malformed, match="status"):
        p.verify(KEY, p.status_topic("t1"), b"online")


@pytest.mark.parametrize("topic", [
    "fp/v1/dev//evt", "fp/v1/dev/" + "a" * 33 + "/evt", "fp/v2/dev/t1/evt", "fp/v1/dev/t1",
    "fp/v1/dev/t1/evt/", "fp/v1/dev/t 1/cmd", b"fp/v1/dev/\xff/evt",
])
def test_parse_topic_rejects(topic):
    with pytest.raises(p.Malformed):
        p.parse_topic(topic)


def test_topics_and_shared_subscription():
    assert p.evt_topic("t1") == "fp/v1/dev/t1/evt"
    assert p.parse_topic(b"fp/v1/dev/A_b-9/status") == ("A_b-9", "status")
    assert shared(EVT_FILTER) == "$share/fingerpos/fp/v1/dev/+/evt"
    assert STATUS_FILTER == "fp/v1/dev/+/status"


def test_broker_password_is_the_documented_derivation():
    want = hmac.new(KEY, b"mqtt", hashlib.sha256).hexdigest()[:32]
    assert p.broker_password(KEY) == want


def test_check_fresh():
    assert p.check_fresh(8, 7) == 8
    with pytest.raises(p.Replayed, match="not above 7"):
        p.check_fresh(7, 7)


# --- the receiver's sequence / chain tracker ---------------------------------

def _stream(n, dev="t1"):
    prev, out = "", []
    for seq in range(1, n + 1):
        _, payload, h = seal(KEY, dev, p.EVT, seq, TS, "heartbeat", prev, {"n": seq})
        out.append((seq, prev, h))
        prev = h
    return out


def test_tracker_in_order_then_duplicates():
    t = chain.SeqTracker()
    events = _stream(5)
    assert [t.observe(*e) for e in events] == [chain.NEW] * 5
    assert t.committed == 5
    assert t.observe(*events[2]) == chain.DUPLICATE


def test_tracker_gap_then_fill():
    t = chain.SeqTracker()
    ev = _stream(6)
    assert t.observe(*ev[0]) == chain.NEW
    assert t.observe(*ev[3]) == chain.GAP
    assert t.missing() == [2, 3]
    assert t.committed == 1  # never acknowledge past a hole
    assert t.observe(*ev[3]) == chain.DUPLICATE
    assert t.observe(*ev[2]) == chain.GAP
    assert t.observe(*ev[1]) == chain.NEW
    assert t.committed == 4 and t.missing() == []
    assert t.observe(*ev[4]) == chain.NEW


def test_tracker_broken_chain_is_reported_and_does_not_block():
    t = chain.SeqTracker()
    ev = _stream(4)
    t.observe(*ev[0])
    seq, _, h = ev[1]
    assert t.observe(seq, "f" * 32, h) == chain.BROKEN
    assert t.observe(*ev[2]) == chain.NEW
    assert t.committed == 3


def test_tracker_first_event_must_have_empty_prev():
    t = chain.SeqTracker()
    assert t.observe(1, "a" * 32, "b" * 32) == chain.BROKEN


def test_tracker_detects_a_filled_hole_that_disagrees_with_its_successor():
    t = chain.SeqTracker()
    ev = _stream(3)
    t.observe(*ev[0])
    t.observe(*ev[2])
    assert t.observe(2, ev[1][1], "e" * 32) == chain.BROKEN  # seq 3's prev says otherwise


def test_tracker_resumes_from_stored_state():
    ev = _stream(3)
    t = chain.SeqTracker(committed=2, last_hash=ev[1][2])
    assert t.observe(*ev[1]) == chain.DUPLICATE
    assert t.observe(*ev[2]) == chain.NEW


@given(st.permutations(list(range(1, 30))))
def test_tracker_any_arrival_order_commits_everything_once(order):
    ev = _stream(29)
    t = chain.SeqTracker()
    kinds = [t.observe(*ev[i - 1]) for i in order]
    assert chain.BROKEN not in kinds and chain.DUPLICATE not in kinds
    assert t.committed == 29 and t.missing() == []
    assert all(t.observe(*e) == chain.DUPLICATE for e in ev)


def test_vector_bodies_are_json_round_trippable():
    body = p.verify(KEY, "fp/v1/dev/t1/evt",
                    seal(KEY, "t1", p.EVT, 1, 0, "boot", "", {"s": "☕"})[1])
    assert json.loads(json.dumps(body)) == body


def test_pin_and_pickup_hashes_are_keyed():
    want = hmac.new(KEY, b"pin:s1:1234", hashlib.sha256).hexdigest()
    assert p.pin_hash(KEY, "s1", "1234") == want
    assert p.pin_hash(bytes(32), "s1", "1234") != want
    assert p.pickup_hash(KEY, 42, "731904") == hmac.new(KEY, b"pickup:42:731904", hashlib.sha256).hexdigest()
