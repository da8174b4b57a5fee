"""The terminal's TLS link (flashed bundle, unix port) against a Mosquitto TLS listener:
it connects with the right CA in ca.pem and refuses (and retries) with the wrong one."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.support.certs import make_ca
from tests.support.firmware import Cloud, assert_healthy, make_config, mpy_bundle
from tests.support.terminal import Terminal


@pytest.mark.parametrize("trusted", [True, False], ids=["right-ca", "wrong-ca"])
def test_tls_link_verifies_the_broker(tmp_path, topic_prefix, trusted):
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make test certificates: apt-get install openssl")
    certs = Path(tempfile.mkdtemp(prefix="fp-tls-"))
    os.chmod(certs, 0o755)
    try:
        ca, cert, key = make_ca(certs / "a", "fingerpos test CA")
        other_ca, _, _ = make_ca(certs / "b", "somebody else")
        tls_port = free_port()
        b = Mosquitto(extra_config=f"listener {tls_port} 127.0.0.1\ncafile {ca}\n"
                                   f"certfile {cert}\nkeyfile {key}\n").start()
        dev = topic_prefix + ("k" if trusted else "x")
        cloud = Cloud(b.port, dev)  # the cloud side uses the plain listener
        cfg = make_config(dev, tls_port)
        cfg["broker"]["tls"] = True
        (tmp_path / "device").mkdir(parents=True)
        shutil.copy(ca if trusted else other_ca, tmp_path / "device" / "ca.pem")
        t = Terminal(tmp_path, cfg, firmware_dir=mpy_bundle())
        t.start()
        try:
            if trusted:
                t.wait_display("online", timeout=20)
                cloud.wait_event("boot")
                # rp2 takes mbedtls's record buffers from the GC heap: so does the unix HAL
                t.wait_log("tls: 20480 B of record buffers held on the heap")
                beat = cloud.wait_event("heartbeat", timeout=20)["data"]
                # measured: heap_free 10 KB charged, 28-30 KB with mbedtls on malloc
                assert beat["heap_free"] < 20 * 1024, beat
            else:
                time.sleep(4)
                assert "offline" in t.display[-1]
                assert not cloud.events
                out = t.output()  # the refused certificate is logged, and retried
                assert "TLS: The certificate is not correctly signed" in out, (out[-2000:], t.logs)
            assert_healthy(t)
        finally:
            t.stop()
            cloud.close()
            b.stop()
    finally:
        shutil.rmtree(certs, ignore_errors=True)
