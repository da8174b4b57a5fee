"""Figures with their units for the pages: "seen 5 s ago", "102.4 KB", "-67 dBm".

Relative times are measured against the server's clock (the page also sends that clock
to static/monitor.js, so a browser whose clock is off still says the same); the absolute
time goes into a title attribute in the shop's IANA zone, labelled with the zone.
Heap sizes are MicroPython's gc.mem_free() bytes (the heartbeat's `heap_free`), shown in
KB of 1024 bytes; RSSI is what network.WLAN.status("rssi") reports, in dBm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def ago(then: datetime | None, now: datetime) -> str:
    """"seen 5 s ago", "seen 3 min ago", "seen 2 h ago", "seen 4 d ago", or "never"."""
    if then is None:
        return "never"
    s = max(0, int((now - then).total_seconds()))
    if s < 60:
        return f"seen {s} s ago"
    if s < 3600:
        return f"seen {s // 60} min ago"
    if s < 86400:
        return f"seen {s // 3600} h ago"
    return f"seen {s // 86400} d ago"


def local(then: datetime | None, zone: str) -> str:
    """The absolute time in the zone, with the zone's name ("2026-12-07 14:11:55 CST
    (Asia/Shanghai)"); UTC when the zone is unknown to this system."""
    if then is None:
        return ""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    at = then.astimezone(tz)
    return f"{at:%Y-%m-%d %H:%M:%S} {at.tzname()} ({zone})"


def kb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f} KB"


def dbm(n: int | None) -> str:
    return "-" if n is None else f"{n} dBm"


def duration(s: int | None) -> str:
    """An uptime in seconds as "3 h 12 min" / "45 s"."""
    if s is None:
        return "-"
    s = max(0, int(s))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m} min"
    return f"{m} min" if m else f"{s} s"


def server_now() -> datetime:
    return datetime.now(UTC)
