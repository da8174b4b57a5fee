"""Fingerprint sensor simulator: the R30x packet protocol on a TCP port, with fault injection.

    python -m fingerpos.tools.sensor_sim --port 7001 --control-port 7002

The terminal's UART (the unix HAL) connects to the sensor port. Tests drive
the simulated finger and the faults through Python methods (SensorSim.place,
.lift, .corrupt, .garbage, .disconnect, .silent) or, from another process,
through the control port: one JSON object per line, e.g.
    {"cmd": "place", "finger": "alice-1"}   -> {"ok": true}
    {"cmd": "state"}                        -> {"ok": true, "state": {...}}
Commands: place (finger, confidence?, bad_image?), lift, corrupt (n), garbage (n),
disconnect, silent (on), empty, state. Only binds 127.0.0.1 unless told otherwise.

Simulated instructions: VfyPwd, ReadSysPara, SetSysPara, GenImg, Img2Tz, RegModel,
Store, LoadChar, Match, Search, HiSpeedSearch, DeletChar, Empty, TemplateNum,
ReadIndexTable, AuraLedConfig, SoftReset, GetEcho, HandShake, CheckSensor (see
tools/sensor_model.py), each only where the profile's model has it
(tools/sensor_profiles.py: --profile r503, the default, or r307). Template/image
transfer (UpChar, DownChar, UpImage, DownImage) is not simulated: those, like any
instruction the model lacks, get confirmation code 0x01.

Per profile the simulator also keeps the model's timing (GenImg capture, Search per
stored template, scaled by --time-scale; 0 answers at once), its power-on behaviour
(power_on(), at start(): commands in its first ready_s are ignored, then the
R503 sends its 0x55 handshake byte to the connected host) and its address: a command
packet whose address field is not the module's (default FFFFFFFF) gets no reply.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from collections import deque
from typing import Any

from fingerpos.tools import sensor_packets as sp
from fingerpos.tools import sensor_profiles
from fingerpos.tools.sensor_model import SensorModel


class SensorSim:
    """One simulated sensor: a SensorModel behind a TCP port, plus a JSON control port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, control_port: int | None = 0,
                 capacity: int | None = None, security_level: int = 3,
                 profile: str = sensor_profiles.DEFAULT_PROFILE, time_scale: float = 1.0,
                 address: bytes = sp.DEFAULT_ADDRESS) -> None:
        self.profile = sensor_profiles.get(profile)
        self.model = SensorModel(capacity=capacity, security_level=security_level,
                                 profile=self.profile)
        self.time_scale = time_scale
        self.address = address
        self.host = host
        self._listener = _listen(host, port)
        self.port = self._listener.getsockname()[1]
        self._control = _listen(host, control_port) if control_port is not None else None
        self.control_port = self._control.getsockname()[1] if self._control else None
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self._corrupt = 0
        self._garbage = 0
        self._silent = False
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        # the last instruction codes received, in order (for tests; bounded for long demos)
        self.commands: deque[int] = deque(maxlen=1000)
        # fault injection: called with each instruction code after the model carried it
        # out and before the reply goes out (e.g. to cut the host's power right there)
        self.before_reply: Any = None
        self.connections = 0
        self._ready_at = 0.0
        self._greeted = True

    # ----- lifecycle
    def start(self) -> SensorSim:
        self.power_on()
        self._spawn(self._accept_sensor)
        if self._control:
            self._spawn(self._accept_control)
        return self

    def stop(self) -> None:
        self._stopped.set()
        for s in (self._listener, self._control, self._client):
            if s is not None:
                _close(s)
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> SensorSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- control API
    def place(self, finger: str, confidence: int | None = None, bad_image: bool = False) -> None:
        """Put finger `finger` (any name, e.g. "alice-1") on the glass."""
        self.model.place(finger, confidence, bad_image)

    def lift(self) -> None:
        self.model.lift()

    def corrupt(self, n: int = 1) -> None:
        """Flip the checksum of the next `n` replies."""
        with self._lock:
            self._corrupt = n

    def garbage(self, n: int = 1) -> None:
        """Replace the next `n` replies by noise of the same length (no start code)."""
        with self._lock:
            self._garbage = n

    def disconnect(self) -> None:
        """Drop the current connection (a pulled cable); the host may connect again."""
        with self._lock:
            client, self._client = self._client, None
        if client:
            _close(client)

    def silent(self, on: bool = True) -> None:
        """Read commands but never answer (a sensor that hangs)."""
        with self._lock:
            self._silent = on

    def state(self) -> dict[str, Any]:
        return self.model.state() | {"connections": self.connections}

    # ----- the sensor port
    def _accept_sensor(self) -> None:
        while not self._stopped.is_set():
            conn = _accept(self._listener)
            if conn is None:
                continue
            with self._lock:
                old, self._client = self._client, conn  # one host per sensor
                self.connections += 1
            if old:
                _close(old)
            self._spawn(self._serve_sensor, conn)

    def power_on(self) -> None:
        """Power the module up (start() does): it ignores commands for the profile's
        ready_s, then greets the host once (the R503's 0x55). On the board the sensor is
        powered with the Pico, so the firmware's first command usually comes after that."""
        with self._lock:
            self._ready_at = time.monotonic() + self.profile.ready_s * self.time_scale
            self._greeted = not self.profile.power_on_byte

    def touch_level(self, touched: bool) -> int:
        """The touch/wake line's level for a finger on (True) or off the glass (profile)."""
        return self.profile.touch_level(touched)

    def _serve_sensor(self, conn: socket.socket) -> None:
        reader = sp.FrameReader()
        while not self._stopped.is_set():
            with self._lock:
                greet = not self._greeted and time.monotonic() >= self._ready_at
                if greet:
                    self._greeted = True
            if greet:
                try:
                    conn.sendall(self.profile.power_on_byte)
                except OSError:
                    return
            try:
                data = conn.recv(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if time.monotonic() < self._ready_at:
                continue  # still initialising: the module "can't accept commands" yet
            reader.feed(data)
            for frame in reader.frames():
                reply = self._answer(frame)
                if reply:
                    try:
                        conn.sendall(reply)
                    except OSError:
                        return

    def _answer(self, frame: bytes) -> bytes:
        with self._lock:
            if self._silent:
                return b""  # a hung sensor: reads, does nothing, answers nothing
        try:
            packet = sp.decode(frame)
        except sp.PacketError:
            body, extra = bytes((sp.RECEIVE_ERROR,)), b""
        else:
            if packet.address != self.address:
                return b""  # addressed to another module: this one stays silent
            if packet.pid != sp.PID_COMMAND or not packet.payload:
                body, extra = bytes((sp.RECEIVE_ERROR,)), b""
            else:
                self.commands.append(packet.payload[0])
                wait = self.model.delay(packet.payload) * self.time_scale
                if wait > 0:
                    time.sleep(wait)  # the module is busy (capture, search) before it answers
                body, extra = self.model.handle(packet.payload)
                hook = self.before_reply
                if hook is not None:
                    hook(packet.payload[0])
        out = bytearray(sp.encode(sp.PID_ACK, body, self.address))
        with self._lock:
            if self._garbage:
                self._garbage -= 1
                return bytes((0x5A + 7 * i) & 0xFF for i in range(len(out))) + extra
            if self._corrupt:
                self._corrupt -= 1
                out[-1] ^= 0xFF
        return bytes(out) + extra

    # ----- the control port
    def _accept_control(self) -> None:
        assert self._control is not None
        while not self._stopped.is_set():
            conn = _accept(self._control)
            if conn is not None:
                self._spawn(self._serve_control, conn)

    def _serve_control(self, conn: socket.socket) -> None:
        buf = b""
        while not self._stopped.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    reply = self.control(line)
                    try:
                        conn.sendall(json.dumps(reply).encode() + b"\n")
                    except OSError:
                        return
        _close(conn)

    def control(self, line: bytes | str) -> dict[str, Any]:
        """Run one control request (a JSON object); never raises on bad input."""
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
            cmd = req.get("cmd")
            if cmd == "place":
                if not isinstance(req.get("finger"), str) or not req["finger"]:
                    raise ValueError("place needs a non-empty string 'finger'")
                self.place(req["finger"], req.get("confidence"), bool(req.get("bad_image")))
            elif cmd == "lift":
                self.lift()
            elif cmd in ("corrupt", "garbage"):
                getattr(self, cmd)(int(req.get("n", 1)))
            elif cmd == "disconnect":
                self.disconnect()
            elif cmd == "silent":
                self.silent(bool(req.get("on", True)))
            elif cmd == "empty":
                self.model.handle(bytes((sp.EMPTY,)))
            elif cmd == "state":
                return {"ok": True, "state": self.state()}
            else:
                raise ValueError(f"unknown cmd {cmd!r}")
        except (ValueError, TypeError) as e:  # json.JSONDecodeError is a ValueError
            return {"ok": False, "error": str(e)}
        return {"ok": True}

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self._threads.append(t)


class SensorControl:
    """Client for a SensorSim control port in another process."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rb")

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        self._sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        line = self._file.readline()
        if not line:
            raise ConnectionError("sensor simulator closed the control connection")
        return json.loads(line)

    def close(self) -> None:
        self._file.close()
        self._sock.close()


def _listen(host: str, port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)
    s.settimeout(0.2)  # so the accept loops notice stop()
    return s


def _accept(listener: socket.socket) -> socket.socket | None:
    try:
        conn, _ = listener.accept()
    except (TimeoutError, OSError):
        return None
    conn.settimeout(0.2)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already disconnected: nothing to shut down
    s.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fingerpos.tools.sensor_sim",
                                description="Simulated R30x/R503 fingerprint sensor on a TCP port.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="sensor port (default: a free one)")
    p.add_argument("--control-port", type=int, default=0,
                   help="JSON control port (default: a free one)")
    p.add_argument("--profile", default=sensor_profiles.DEFAULT_PROFILE,
                   choices=sorted(sensor_profiles.PROFILES),
                   help="sensor model to behave as (default %(default)s)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiply the model's reply times by this (0: answer at once)")
    p.add_argument("--capacity", type=int, default=None,
                   help="template slots (default: the profile's)")
    p.add_argument("--security-level", type=int, default=3, choices=range(1, 6),
                   help="security level the sensor reports (1-5, default 3)")
    args = p.parse_args(argv)
    try:
        sim = SensorSim(args.host, args.port, args.control_port, args.capacity,
                        args.security_level, profile=args.profile,
                        time_scale=max(0.0, args.time_scale)).start()
    except OSError as e:
        print(f"error: cannot listen: {e}", file=sys.stderr)
        return 1
    print(f"sensor on {args.host}:{sim.port}, control on {args.host}:{sim.control_port}",
          flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
