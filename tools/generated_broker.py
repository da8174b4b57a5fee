"""Mosquitto started with exactly the files `fingerpos broker-config` writes.

For tests/test_workers.py and `fingerpos bench ingest --broker generated`: the
terminals are read from the cloud's database (`broker-config --db`, keys
opened with FINGERPOS_SECRET), so the passwd file, the ACL and every other
setting are what production runs. The command runs as a subprocess, as a
technician runs it, so this module depends on its command line only.

The generated config has a TLS listener for the terminals; here it gets a
throwaway self-signed certificate for 127.0.0.1 (made with `cryptography`,
a dependency already), and the clients use the plain loopback listener
(`--loopback-port`), which has the same password file and ACL.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import signal
import subprocess
from pathlib import Path

from fingerpos import protocol
from fingerpos.tools.mosquitto import Mosquitto, free_port
from fingerpos.tools.serve_workers import fingerpos_command


def self_signed(d: Path) -> dict[str, str]:
    """A key and a self-signed certificate for 127.0.0.1, world-readable (Mosquitto started
    as root reads them after dropping to its own user)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (d / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    for f in d.iterdir():
        os.chmod(f, 0o644)
    return {"certfile": str(d / "server.pem"), "keyfile": str(d / "server.key"),
            "cafile": str(d / "server.pem")}


class GeneratedBroker:
    """`fingerpos broker-config --db DB_URL --out DIR/broker`, then Mosquitto on that config."""

    def __init__(self, workdir: Path, db_url: str, secret: str,
                 fleet_size: int | None = None) -> None:
        self.dir = Path(workdir)
        self.db_url, self.secret = db_url, secret
        self.fleet_size = fleet_size  # broker-config --fleet-size (default: the database's)
        self.out = self.dir / "broker"
        self.port = free_port()  # the loopback listener the clients use
        self.tls_port = free_port()
        self.broker: Mosquitto | None = None

    def generate(self) -> str:
        """Run broker-config; returns what it printed. Raises RuntimeError when it fails."""
        certs = self_signed(self.dir / "certs")
        state = self.dir / "state"
        state.mkdir(parents=True, exist_ok=True)
        user = pwd.getpwuid(os.geteuid()).pw_name
        argv = [*fingerpos_command(), "broker-config", "--out", str(self.out),
                "--db", self.db_url, "--tls-port", str(self.tls_port),
                "--loopback-port", str(self.port), "--run-as", user,
                "--persistence-dir", str(state),
                *(["--fleet-size", str(self.fleet_size)] if self.fleet_size else []),
                *sum(([f"--{k}", v] for k, v in certs.items()), [])]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "FINGERPOS_SECRET": self.secret})
        if res.returncode != 0:
            raise RuntimeError(f"fingerpos broker-config failed: {res.stderr.strip()}")
        return res.stdout

    def start(self) -> GeneratedBroker:
        self.generate()
        self.broker = Mosquitto(config_file=self.out / "mosquitto.conf", port=self.port,
                                workdir=self.dir / "mosquitto")
        self.broker.dir.mkdir(parents=True, exist_ok=True)
        self.broker.start()
        return self

    def reload(self) -> None:
        """Generate again (new terminals in the database) and SIGHUP Mosquitto to re-read."""
        self.generate()
        if self.broker and self.broker.proc:
            self.broker.proc.send_signal(signal.SIGHUP)

    @property
    def cloud_url(self) -> str:
        password = (self.out / "cloud-password").read_text().strip()
        return f"mqtt://cloud:{password}@127.0.0.1:{self.port}"

    def terminal_url(self, dev: str, key: bytes) -> str:
        """A terminal's login: user = device id, password = protocol.broker_password(key)."""
        return f"mqtt://{dev}:{protocol.broker_password(key)}@127.0.0.1:{self.port}"

    def log_text(self) -> str:
        path = self.broker.dir / "mosquitto.log" if self.broker else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.broker:
            self.broker.stop()

    def __enter__(self) -> GeneratedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
