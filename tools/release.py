"""Signed firmware releases: the release key, and a release built from a bundle (issue #18 item 1).

A release is a directory: the bundle's files (everything a terminal runs but its own
config.json), `manifest.json` (path, size and SHA-256 of each file, the version and the
target) and `manifest.sig`, the RSASSA-PKCS1-v1_5 SHA-256 signature (RFC 8017) of
manifest.json's exact bytes under the release key. Signing uses `cryptography`
(OpenSSL); the terminal verifies with firmware/release.py, whose module header gives
the reason for RSA-2048 and its cost on the RP2040.

The release key is made by `fingerpos release keygen` and belongs offline with whoever
signs releases: the cloud never holds it, only its public half (`release.pub`), which
terminals are provisioned with. A cloud taken over can therefore stage, but not forge,
an update.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.device import terminal_config as tc

ALG = "rsa2048-pkcs1v15-sha256"   # firmware/release.py ALG
KEY_NAME, PUB_NAME = "release_key.pem", "release.pub"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
FW_TITLE = "fingerpos"
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$")
MAX_FILES = 200                   # firmware/release.py parse()


class ReleaseError(Exception):
    """A release cannot be made or does not verify; the message says why."""


@dataclass(frozen=True)
class Release:
    path: Path
    version: str
    target: str
    files: int
    bytes: int


def keygen(out_dir: Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """Write a new release key (PKCS#8 PEM, mode 0600, encrypted when a passphrase is given)
    and its public half for terminals. Refuses to overwrite an existing key."""
    out_dir = Path(out_dir)
    key_path, pub_path = out_dir / KEY_NAME, out_dir / PUB_NAME
    if key_path.exists():
        raise ReleaseError(f"{key_path} exists: a new key would orphan every terminal provisioned "
                           "with the old one; choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    enc = (serialization.BestAvailableEncryption(passphrase) if passphrase
           else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_text(public_json(key.public_key()))
    return key_path, pub_path


def public_json(pub: rsa.RSAPublicKey) -> str:
    """release.pub: the modulus as 512 hex digits, what firmware/release.py load_key reads."""
    nums = pub.public_numbers()
    if pub.key_size != 2048 or nums.e != 65537:
        raise ReleaseError("a release key must be RSA-2048 with exponent 65537")
    return json.dumps({"alg": ALG, "e": nums.e, "n": format(nums.n, "0512x")}) + "\n"


def load_private(path: Path, passphrase: bytes | None = None) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), passphrase)
    except FileNotFoundError:
        raise ReleaseError(f"{path} not found: make one with `fingerpos release keygen`") from None
    except (ValueError, TypeError) as e:
        raise ReleaseError(f"{path} is not a usable release key ({e})") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 2048:
        raise ReleaseError(f"{path} is not an RSA-2048 release key")
    return key


def load_public(path: Path) -> rsa.RSAPublicKey:
    try:
        d = json.loads(Path(path).read_text())
        if d.get("alg") != ALG or d.get("e") != 65537:
            raise ValueError(f"not a {ALG} key")
        return rsa.RSAPublicNumbers(65537, int(d["n"], 16)).public_key()
    except FileNotFoundError:
        raise ReleaseError(f"{path} not found") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ReleaseError(f"{path} is not a release public key ({e})") from None


def build(bundle_dir: Path, version: str, key: rsa.RSAPrivateKey, out_dir: Path,
          on_file: Callable[[str, int], None] | None = None) -> Release:
    """Make a release of `bundle_dir` (checked against its own manifest first) in `out_dir`."""
    if not VERSION_RE.match(version or ""):
        raise ReleaseError(f"version {version!r}: 1-32 of 0-9 A-Z a-z . + _ -, starting with "
                           "a letter or digit")
    try:
        files = bundle_mod.load_manifest(Path(bundle_dir))
    except bundle_mod.BundleError as e:
        raise ReleaseError(str(e)) from None
    files = [f for f in files if f.path != tc.CONFIG_NAME]
    if not files or len(files) > MAX_FILES:
        raise ReleaseError(f"{bundle_dir}: {len(files)} files; a release holds 1 to {MAX_FILES}")
    paths = {f.path for f in files}
    if "main.py" not in paths:
        raise ReleaseError(f"{bundle_dir} has no main.py: not a terminal bundle")
    target = "unix" if "hal/unix.mpy" in paths else "pico"
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ReleaseError(f"{out_dir} is not empty: choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".release-", dir=out_dir.parent))
    try:
        for f in files:
            dest = work / "files" / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(bundle_dir) / f.path, dest)
            if on_file:
                on_file(f.path, f.size)
        manifest = {"v": 1, "fw_title": FW_TITLE, "fw_version": version, "target": target,
                    "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files]}
        raw = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        (work / MANIFEST).write_bytes(raw)
        (work / SIGNATURE).write_bytes(key.sign(raw, padding.PKCS1v15(), hashes.SHA256()))
        if out_dir.exists():
            out_dir.rmdir()
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Release(out_dir, version, target, len(files), sum(f.size for f in files))


def verify(release_dir: Path, pub: rsa.RSAPublicKey) -> dict:
    """The manifest of a release whose signature and files all check out; else ReleaseError."""
    release_dir = Path(release_dir)
    try:
        raw = (release_dir / MANIFEST).read_bytes()
        sig = (release_dir / SIGNATURE).read_bytes()
    except FileNotFoundError as e:
        raise ReleaseError(f"{e.filename} not found: not a release directory") from None
    try:
        pub.verify(sig, raw, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise ReleaseError(f"{release_dir}: the signature does not match the manifest "
                           "under this key") from None
    manifest = json.loads(raw)
    for f in manifest["files"]:
        local = release_dir / "files" / f["path"]
        if not local.is_file() or bundle_mod.sha256_file(local) != f["sha256"]:
            raise ReleaseError(f"{local} is missing or differs from the manifest")
    return manifest
