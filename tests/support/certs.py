"""Throwaway TLS material for tests: a CA and a broker certificate for 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def make_ca(path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (EC P-256), via openssl."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)  # mosquitto run as root drops to its own user

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=path, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", f"/CN={name}")
    ssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    for f in path.iterdir():
        os.chmod(f, 0o644)
    return path / "ca.pem", path / "server.pem", path / "server.key"
