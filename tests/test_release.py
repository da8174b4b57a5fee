"""Signed releases (issue #18 item 1): `fingerpos release` signs with OpenSSL, and the
terminal's own check (firmware/release.py, compiled into the bundle) runs under the
MicroPython unix port. The outside references: OpenSSL's signatures (through
`cryptography`, and the `openssl` command line), RFC 8017's encoding, and attacks on
the manifest, the files and the signature."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fingerpos.tools import release as rel
from fingerpos.tools.cli import main as cli

from tests.conftest import run_micropython
from tests.support.firmware import mpy_bundle

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "mp" / "fw_release.py"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    rel.keygen(d)
    return d


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory, keys) -> Path:
    out = tmp_path_factory.mktemp("r") / "v2"
    rel.build(mpy_bundle(), "0.2.0", rel.load_private(keys / rel.KEY_NAME), out)
    return out


def copy(src: Path, tmp: Path) -> Path:
    dest = tmp / "copy"
    shutil.copytree(src, dest)
    return dest


def terminal_check(r: Path, pub: Path, target: str = "unix", sig: Path | None = None,
                   manifest: Path | None = None, heap: str = "128k") -> str:
    p = run_micropython(SCRIPT, str(mpy_bundle()), str(r / "files"),
                        str(manifest or r / rel.MANIFEST), str(sig or r / rel.SIGNATURE),
                        str(pub), target, heap=heap)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_a_release_verifies_on_the_terminal_and_with_openssl(release_dir, keys, capsys):
    out = terminal_check(release_dir, keys / rel.PUB_NAME)
    assert out.startswith("OK 0.2.0 ") and "sig_ok=True" in out, out
    print(out)  # verify_us / check_ms / retained, for the closing note (pytest -s)
    # The whole check (the key, the 2048-bit arithmetic, a 512-byte read buffer, the parsed
    # manifest) runs in a 26 KiB heap (not in 24 KiB since the unix release carries the
    # HAL twin's on-demand parts and session.py: the parsed manifest of some 60 files is
    # most of it): an update fits beside the app on the Pico W.
    assert terminal_check(release_dir, keys / rel.PUB_NAME, heap="26k").startswith("OK 0.2.0")
    m = rel.verify(release_dir, rel.load_public(keys / rel.PUB_NAME))
    assert m["target"] == "unix" and m["fw_version"] == "0.2.0"
    paths = {f["path"] for f in m["files"]}
    assert "main.py" in paths and "release.mpy" in paths and "hal/unix.mpy" in paths
    assert "config.json" not in paths   # a terminal's key never travels in a release


def test_a_signature_made_by_the_openssl_command_line_verifies_on_the_terminal(tmp_path, keys,
                                                                              release_dir):
    """The signer is not our code: `openssl dgst -sha256 -sign` (PKCS#1 v1.5 by default)."""
    r = copy(release_dir, tmp_path)
    sig = tmp_path / "openssl.sig"
    subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(keys / rel.KEY_NAME),
                    "-out", str(sig), str(r / rel.MANIFEST)], check=True)
    assert terminal_check(r, keys / rel.PUB_NAME, sig=sig).startswith("OK 0.2.0")
    # and one made with PSS padding (a different RFC 8017 scheme) does not
    subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(keys / rel.KEY_NAME),
                    "-sigopt", "rsa_padding_mode:pss", "-out", str(sig),
                    str(r / rel.MANIFEST)], check=True)
    assert terminal_check(r, keys / rel.PUB_NAME, sig=sig) == "ERR bad signature"


def test_a_changed_file_manifest_or_signature_is_refused(tmp_path, keys, release_dir):
    pub = keys / rel.PUB_NAME
    r = copy(release_dir, tmp_path)
    app = r / "files" / "app.mpy"
    data = bytearray(app.read_bytes())
    data[len(data) // 2] ^= 1
    app.write_bytes(bytes(data))
    assert terminal_check(r, pub) == "ERR bad file app.mpy"
    with pytest.raises(rel.ReleaseError, match="app.mpy"):
        rel.verify(r, rel.load_public(pub))
    app.write_bytes((release_dir / "files" / "app.mpy").read_bytes() + b"\0")   # one byte longer
    assert terminal_check(r, pub) == "ERR bad file app.mpy"
    shutil.copy(release_dir / "files" / "app.mpy", app)

    manifest = json.loads((r / rel.MANIFEST).read_bytes())
    manifest["fw_version"] = "9.9.9"
    forged = tmp_path / "forged.json"
    forged.write_bytes(json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode())
    assert terminal_check(r, pub, manifest=forged) == "ERR bad signature"

    sig = (r / rel.SIGNATURE).read_bytes()
    for bad in (sig[:-1], sig + b"\0", bytes([sig[0] ^ 0x80]) + sig[1:], b"\xff" * 256):
        (tmp_path / "bad.sig").write_bytes(bad)
        assert terminal_check(r, pub, sig=tmp_path / "bad.sig") == "ERR bad signature"


def test_another_key_and_a_bad_key_file_are_refused(tmp_path, release_dir):
    other = tmp_path / "other"
    rel.keygen(other)
    assert terminal_check(release_dir, other / rel.PUB_NAME) == "ERR bad signature"
    bad = tmp_path / "bad.pub"
    for text in ("", "{}", '{"alg":"rsa2048-pkcs1v15-sha256","e":3,"n":"' + "f" * 512 + '"}',
                 '{"alg":"rsa2048-pkcs1v15-sha256","e":65537,"n":"' + "0" * 512 + '"}',
                 '{"alg":"rsa2048-pkcs1v15-sha256","e":65537,"n":"zz"}'):
        bad.write_text(text)
        assert terminal_check(release_dir, bad) == "ERR bad release key", text


def test_a_validly_signed_manifest_with_a_hostile_path_or_target_is_refused(tmp_path, keys,
                                                                          release_dir):
    """The signature is not the only check: a release key used by mistake on a crafted
    manifest must still not write outside the app or over the terminal's config."""
    key = rel.load_private(keys / rel.KEY_NAME)
    manifest = json.loads((release_dir / rel.MANIFEST).read_bytes())
    good = manifest["files"][0]
    cases = {"../main.py": "ERR bad path", "/main.py": "ERR bad path", "a//b.mpy": "ERR bad path",
             "config.json": "ERR bad path", "./main.py": "ERR bad path"}
    for path, expect in cases.items():
        m = dict(manifest, files=[dict(good, path=path)])
        raw = json.dumps(m, separators=(",", ":")).encode()
        (tmp_path / "m.json").write_bytes(raw)
        (tmp_path / "m.sig").write_bytes(key.sign(raw, padding.PKCS1v15(), hashes.SHA256()))
        assert terminal_check(release_dir, keys / rel.PUB_NAME, manifest=tmp_path / "m.json",
                              sig=tmp_path / "m.sig") == expect, path
    # the same release on a board of the other target
    assert terminal_check(release_dir, keys / rel.PUB_NAME, target="pico") == "ERR release for unix"


def test_release_cli_keygen_build_verify_and_its_refusals(tmp_path, capsys):
    keys = tmp_path / "keys"
    assert cli(["release", "keygen", "--out", str(keys)]) == 0
    assert (keys / rel.KEY_NAME).stat().st_mode & 0o777 == 0o600
    before = (keys / rel.KEY_NAME).read_bytes()
    assert cli(["release", "keygen", "--out", str(keys)]) == 1
    assert "exists" in capsys.readouterr().err
    assert (keys / rel.KEY_NAME).read_bytes() == before   # never overwritten

    out = tmp_path / "v3"
    assert cli(["release", "build", str(mpy_bundle()), "--version", "0.3.0",
                "--key", str(keys / rel.KEY_NAME), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "  main.py" in text and "release 0.3.0 for unix" in text   # a line per file
    assert cli(["release", "verify", str(out), "--pub", str(keys / rel.PUB_NAME)]) == 0
    assert "signature and" in capsys.readouterr().out

    for args, msg in ((["--version", "0.3 beta"], "version"),
                      (["--version", "0.3.1", "--out-reuse"], "not empty")):
        target = out if "--out-reuse" in args else tmp_path / "x"
        argv = ["release", "build", str(mpy_bundle()), *[a for a in args if a != "--out-reuse"],
                "--key", str(keys / rel.KEY_NAME), "--out", str(target)]
        assert cli(argv) == 1
        assert msg in capsys.readouterr().err
    assert cli(["release", "build", str(tmp_path), "--version", "1",
                "--key", str(keys / rel.KEY_NAME), "--out", str(tmp_path / "y")]) == 1
    assert "fingerpos device bundle" in capsys.readouterr().err   # not a bundle: says what to do
    assert cli(["release", "build", str(mpy_bundle()), "--version", "1",
                "--key", str(keys / rel.PUB_NAME), "--out", str(tmp_path / "z")]) == 1
    assert "not a usable release key" in capsys.readouterr().err
