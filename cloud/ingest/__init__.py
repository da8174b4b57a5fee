"""MQTT ingestion: signed terminal events -> verified -> stored exactly once -> acked.

    from fingerpos.cloud.ingest.pipeline import Ingestion
    from fingerpos.cloud.fleet.registry import DeviceRegistry
    ingestion = Ingestion(mqtt_url, DeviceRegistry(open_key), handlers={...},
                          notify=lambda kind, payload: ..., roster=async_roster_of)
    await ingestion.start(); ...; await ingestion.stop()

`ingestion.commands.send(device_id, typ, data)` is the order engine's way to
reach a terminal; `ingestion.stats.prometheus()` is its part of /metrics.
"""


def resources(config):  # noqa: ANN001, ANN201  (typed in wiring.py; imported lazily: cycles)
    """create_app's hook: the MQTT side's cleanup contexts (see wiring.py)."""
    from fingerpos.cloud.ingest.wiring import resources as _resources
    return _resources(config)
