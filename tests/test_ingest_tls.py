"""The cloud's MQTT link over TLS (`--mqtt mqtts://host:8883?ca=FILE`) to a real Mosquitto
TLS listener: the ingestion stores a burst of events read through TLS (many records, partial ones
included), and a
broker whose certificate the CA did not sign is refused with a one-line reason."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest.link import MqttLink, parse_url, tls_of
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.models.devices import DeviceEvent
from fingerpos.tools.fleet import SimTerminal, heartbeat
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.support.certs import make_ca
from tests.support.ingest_env import open_hex, register

pytestmark = pytest.mark.cloud


@pytest.fixture(scope="module")
def tls_broker():
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make test certificates: apt-get install openssl")
    certs = Path(tempfile.mkdtemp(prefix="fp-cloud-tls-"))
    os.chmod(certs, 0o755)
    ca, cert, key = make_ca(certs / "a", "fingerpos test CA")
    other_ca, _, _ = make_ca(certs / "b", "somebody else")
    tls_port = free_port()
    b = Mosquitto(extra_config=f"listener {tls_port} 127.0.0.1\ncafile {ca}\n"
                               f"certfile {cert}\nkeyfile {key}\n").start()
    try:
        yield b, tls_port, ca, other_ca
    finally:
        b.stop()
        shutil.rmtree(certs, ignore_errors=True)


def test_url_forms():
    assert parse_url("mqtts://broker.shop") == ("broker.shop", 8883, None, None)
    assert parse_url("mqtt://u:p@h:1884") == ("h", 1884, "u", "p")
    assert tls_of("mqtts://h:8883?ca=/etc/fp/ca.pem") == (True, "/etc/fp/ca.pem")
    assert tls_of("mqtt://h") == (False, None)
    with pytest.raises(ValueError, match="mqtts://host:8883"):
        parse_url("http://h")


async def test_ingestion_over_tls_stores_a_burst(ingest_db, tls_broker, topic_prefix):
    broker, tls_port, ca, _ = tls_broker
    ing = Ingestion(f"mqtts://127.0.0.1:{tls_port}?ca={ca}", DeviceRegistry(open_hex),
                    client_id="cloud-tls-" + topic_prefix)
    await ing.start()
    dev = topic_prefix + "tls"
    t = SimTerminal(dev, await register(dev), broker.url)  # the terminal on the plain port
    await t.start()
    try:
        for n in range(1500):
            t.emit("heartbeat", heartbeat(n))
        await t.drained(timeout=60)  # acked: the cloud's commands went out through TLS too
        assert await DeviceEvent.filter(device_id=dev).count() == 1500
    finally:
        await t.stop()
        await ing.stop()


async def test_a_broker_the_ca_did_not_sign_is_refused(tls_broker):
    _, tls_port, _, other_ca = tls_broker
    link = MqttLink(f"mqtts://127.0.0.1:{tls_port}?ca={other_ca}", "cloud-wrong-ca", [])
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{tls_port}.*CERTIFICATE_VERIFY_FAILED"):
        await asyncio.wait_for(link.start(timeout=10), 30)


def test_a_missing_ca_file_is_a_config_error(tmp_path):
    from fingerpos.cloud.core.config import Config, ConfigError
    with pytest.raises(ConfigError, match="CA file .*nope.pem does not exist"):
        Config(mqtt_url=f"mqtts://h:8883?ca={tmp_path}/nope.pem", data_dir=tmp_path).validated()
