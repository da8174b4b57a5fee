# Drives firmware/mqtt.py against a broker (real Mosquitto or a fake server).
# Usage: micropython fw_mqtt_client.py REPO HOST PORT DEV N PACE_MS MAX_PACKET
# Publishes N QoS 1 messages "DEV:i" on fp/v1/dev/DEV/evt (PACE_MS apart),
# prints "MSG <payload>" for each message on fp/v1/dev/DEV/cmd, and exits
# when a "quit" command arrives and every publish is acknowledged; the last
# line is "STATS {json}".
import json
import sys

root, host, port, dev = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
n, pace, max_packet = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
sys.path.insert(0, root + "/firmware")

import asyncio  # noqa: E402

import mqtt  # noqa: E402

done = asyncio.Event()


def on_message(topic, payload):
    payload = bytes(payload)  # a view into the client's receive buffer, reused after
    print("MSG", topic.decode(), payload.decode())
    if payload == b"quit":
        done.set()


async def online():
    await c.publish("fp/v1/dev/%s/status" % dev, b"online", 1, True)
    print("CONNECTED")


c = mqtt.MQTTClient(dev, host, port, user=dev, password="pw", keepalive=4,
                    will=("fp/v1/dev/%s/status" % dev, b"offline", 1, True),
                    max_packet=max_packet, on_message=on_message, on_connect=online)


async def main():
    await c.subscribe("fp/v1/dev/%s/cmd" % dev, 1)
    task = asyncio.create_task(c.run(base_ms=100, cap_ms=800))
    i = 0
    while i < n:
        await c.connected.wait()
        try:
            await c.publish("fp/v1/dev/%s/evt" % dev, b"%s:%d" % (dev, i), 1)
        except OSError:
            continue  # not sent: the same i again once connected
        print("PUB", i)
        i += 1
        if pace:
            await asyncio.sleep_ms(pace)
    await done.wait()
    while c.inflight:
        await asyncio.sleep_ms(20)
    print("STATS", json.dumps({"reconnects": c.reconnects, "oversize": c.oversize,
                               "malformed": c.malformed}))
    await c.disconnect()
    task.cancel()


asyncio.run(main())
