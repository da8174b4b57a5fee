"""A member of the cloud's share group in a process of its own (tests/test_workers.py kills it).

    python shared_member.py URL CLIENT_ID clean|persistent OUTFILE

Connects with MqttLink as the ingestion does (MQTT 5; a clean session, or a persistent
one that outlives the connection), subscribes to $share/fingerpos/fp/v1/dev/+/evt,
prints "subscribed" once the broker granted it, and appends each payload to OUTFILE.
"""

from __future__ import annotations

import asyncio
import sys

from fingerpos.cloud.ingest.link import MqttLink
from fingerpos.protocol.subscriptions import EVT_FILTER, shared


async def main(url: str, client_id: str, mode: str, out_path: str) -> None:
    out = open(out_path, "a", buffering=1)
    granted = asyncio.Event()
    link = MqttLink(url, client_id, [(shared(EVT_FILTER), 1)],
                    on_message=lambda c, u, msg: out.write(msg.payload.decode() + "\n"),
                    mqtt5=True, clean=mode == "clean")

    def on_subscribe(client, userdata, mid, reasons, props) -> None:
        if all(not r.is_failure for r in reasons):
            granted.set()
        else:
            print(f"refused: {reasons}", flush=True)

    link.client.on_subscribe = on_subscribe
    await link.start()
    await asyncio.wait_for(granted.wait(), 20)
    print("subscribed", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
