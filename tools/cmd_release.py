"""`fingerpos release keygen|build|verify`: signed firmware releases for over-the-air updates."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fingerpos.tools import release as rel

PASSPHRASE_ENV = "FINGERPOS_RELEASE_PASSPHRASE"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="make the release key, build and verify signed "
                       "firmware releases")
    ps = p.add_subparsers(dest="release_command", metavar="ACTION", required=True)

    kg = ps.add_parser("keygen", help="make a new release key and its public half",
                       description="Write DIR/release_key.pem (RSA-2048, mode 0600) and "
                       "DIR/release.pub. Keep the key offline with whoever signs releases, never "
                       "on the cloud; terminals get release.pub when provisioned. The key is "
                       f"encrypted when ${PASSPHRASE_ENV} is set. Never overwrites a key.")
    kg.add_argument("--out", type=Path, required=True, help="directory for the two files")
    kg.set_defaults(func=_keygen)

    bd = ps.add_parser("build", help="sign a bundle as a release",
                       description="Make a release from a bundle (`fingerpos device bundle`): "
                       "its files without the terminal's config.json, a manifest of path, size "
                       "and SHA-256, and the manifest's signature under the release key.")
    bd.add_argument("bundle", type=Path, help="bundle directory")
    bd.add_argument("--version", required=True, help="release version, e.g. 0.2.0")
    bd.add_argument("--key", type=Path, required=True, help="release_key.pem from keygen "
                    f"(passphrase from ${PASSPHRASE_ENV})")
    bd.add_argument("--out", type=Path, required=True, help="new, empty release directory")
    bd.set_defaults(func=_build)

    vf = ps.add_parser("verify", help="check a release's signature and every file's hash",
                       description="What a terminal checks before it installs a release, "
                       "done on this computer with OpenSSL.")
    vf.add_argument("release", type=Path, help="release directory")
    vf.add_argument("--pub", type=Path, required=True, help="release.pub")
    vf.set_defaults(func=_verify)


def _passphrase() -> bytes | None:
    v = os.environ.get(PASSPHRASE_ENV)
    return v.encode() if v else None


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def _keygen(args: argparse.Namespace) -> int:
    try:
        key, pub = rel.keygen(args.out, _passphrase())
    except (rel.ReleaseError, OSError) as e:
        return _fail(str(e))
    print(f"release key: {key} (keep it offline; back it up)")
    print(f"public key for terminals: {pub}")
    return 0


def _build(args: argparse.Namespace) -> int:
    try:
        key = rel.load_private(args.key, _passphrase())
        print(f"building release {args.version} in {args.out}")
        r = rel.build(args.bundle, args.version, key, args.out,
                      on_file=lambda path, size: print(f"  {path:<32} {size:>7} B"))
    except (rel.ReleaseError, OSError) as e:
        return _fail(str(e))
    print(f"release {r.version} for {r.target}: {r.files} files, {r.bytes} B, signed "
          f"({rel.MANIFEST}, {rel.SIGNATURE})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        m = rel.verify(args.release, rel.load_public(args.pub))
    except (rel.ReleaseError, OSError) as e:
        return _fail(str(e))
    print(f"release {m['fw_version']} for {m['target']}: signature and {len(m['files'])} "
          "files check out")
    return 0
