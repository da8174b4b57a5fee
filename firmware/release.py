"""Release manifests for over-the-air updates: signature and file checks (issue #18 item 1).

Imported only while an update is checked, never at boot: nothing here stays resident.

A release manifest is signed with RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017
§8.2.2; the encoding EMSA-PKCS1-v1_5 of §9.2). The release key stays with the people who
build releases (`fingerpos release keygen`), never on the cloud: a terminal holds only
the public key (`release.pub`, written by `fingerpos device provision --release-pub`),
so neither the cloud nor anyone who takes it over can forge a release.

Why RSA rather than Ed25519 or ECDSA: with the public exponent 65537 a verification is
16 modular squarings and one multiplication of 2048-bit integers, which MicroPython's
arbitrary-precision integers (rp2 builds MICROPY_LONGINT_IMPL_MPZ) do in C. Ed25519 or
P-256 would need thousands of big-integer operations driven from bytecode. The exponent
is applied by hand, not with pow(x, y, m), whose three-argument form is an optional
builtin (MICROPY_PY_BUILTINS_POW3). Verification needs no secret, so it need not be
constant-time.

The manifest is JSON: {"v": 1, "fw_title": "fingerpos", "fw_version": ..., "target":
"pico"|"unix", "files": [{"path", "size", "sha256"}]}; its exact bytes are what is signed.
"""

import binascii
import hashlib
import json

ALG = "rsa2048-pkcs1v15-sha256"
_E = 65537
# DER of DigestInfo{sha256, NULL}, the 19 bytes RFC 8017 §9.2 note 1 lists before H.
_SHA256_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"
_CHUNK = 512


class ReleaseError(Exception):
    pass


def load_key(raw):
    """(n, k) from a release.pub file's bytes: the modulus and its length in bytes."""
    try:
        d = json.loads(raw)
        h = d["n"]
        if d.get("alg") != ALG or d.get("e") != _E or len(h) != 512:
            raise ValueError
        n = int(h, 16)
    except (ValueError, KeyError, TypeError):
        raise ReleaseError("bad release key")
    if n >> 2047 != 1 or not n & 1:
        raise ReleaseError("bad release key")
    return n, 256


def verify(message, sig, n, k):
    """True when `sig` is the RSASSA-PKCS1-v1_5 SHA-256 signature of `message` under (n, 65537)."""
    if len(sig) != k:
        return False
    s = int.from_bytes(sig, "big")
    if s >= n:
        return False
    m = s
    for _ in range(16):
        m = m * m % n
    m = m * s % n
    digest = hashlib.sha256(message).digest()
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(_SHA256_INFO) - 32) + b"\x00" + _SHA256_INFO + digest
    return m == int.from_bytes(em, "big")


def _safe(path):
    if not isinstance(path, str) or not path or path[0] == "/" or "\\" in path:
        return False
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return False
    return path != "config.json"


def parse(raw, target):
    """The manifest's dict, after checking its shape; raises ReleaseError."""
    try:
        m = json.loads(raw)
        files = m["files"]
        ok = (m["v"] == 1 and isinstance(m["fw_version"], str) and 0 < len(m["fw_version"]) <= 32
              and isinstance(files, list) and 0 < len(files) <= 200)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ReleaseError("bad manifest")
    if m.get("target") != target:
        raise ReleaseError("release for " + str(m.get("target")))
    seen = set()
    for f in files:
        if not isinstance(f, dict) or not _safe(f.get("path")) or f["path"] in seen:
            raise ReleaseError("bad path")
        size, sha = f.get("size"), f.get("sha256")
        if not isinstance(size, int) or size < 0 or not isinstance(sha, str) or len(sha) != 64:
            raise ReleaseError("bad file entry")
        seen.add(f["path"])
    return m


def file_ok(path, size, sha256):
    """True when the file at `path` has exactly `size` bytes with that SHA-256 (hex)."""
    h = hashlib.sha256()
    n = 0
    buf = bytearray(_CHUNK)
    try:
        with open(path, "rb") as f:
            while True:
                got = f.readinto(buf)
                if not got:
                    break
                n += got
                if n > size:
                    return False
                h.update(buf if got == _CHUNK else buf[:got])
    except OSError:
        return False
    return n == size and binascii.hexlify(h.digest()).decode() == sha256


def check(root, manifest_raw, sig, key_raw, target):
    """Verify a staged release under `root`: the signature, then every file. Returns the
    manifest; raises ReleaseError naming the first thing wrong."""
    n, k = load_key(key_raw)
    if not verify(manifest_raw, sig, n, k):
        raise ReleaseError("bad signature")
    m = parse(manifest_raw, target)
    for f in m["files"]:
        if not file_ok(root + "/" + f["path"], f["size"], f["sha256"]):
            raise ReleaseError("bad file " + f["path"])
    return m
