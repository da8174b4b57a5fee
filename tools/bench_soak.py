"""The memory soak of `fingerpos bench ingest --mode soak`: a steady stream for
--duration seconds while the cloud's resident memory (RSS) is sampled.

The cloud runs in the bench's own process, so the bench keeps nothing per
event while soaking (the feed reader only counts), and the publishers send
no per-event times back: what grows is the cloud's. The slope is a least
squares fit over the second half of the run: in the first minutes memory
grows while caches fill (SQLite's page cache, each device's SeqTracker keeping
up to 4,096 chain hashes, allocator arenas) and then stays put; a leak keeps
growing in the second half.
RSS is read from /proc/self/statm (Linux), so no extra dependency is needed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """This process's resident memory in MiB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError as e:
        raise RuntimeError(f"--mode soak reads /proc/self/statm (Linux only): {e}") from e


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if not var:
        return 0.0
    return sum((t - mt) * (v - mv) for t, v in samples) / var * 60


async def soak(stream: Callable[[], Awaitable[dict]], every: float,
               say: Callable[[str], None]) -> dict:
    """Run `stream()` (the steady publishers) while sampling RSS every `every` seconds."""
    samples: list[tuple[float, float]] = []
    start = time.monotonic()

    async def sample() -> None:
        last_said = 0.0
        while True:
            t = time.monotonic() - start
            samples.append((t, rss_mb()))
            if t - last_said >= 30:
                say(f"  {t:5.0f} s  RSS {samples[-1][1]:.1f} MiB")
                last_said = t
            await asyncio.sleep(every)

    sampler = asyncio.create_task(sample())
    try:
        pub = await stream()
    finally:
        sampler.cancel()
    samples.append((time.monotonic() - start, rss_mb()))
    settled = [s for s in samples if s[0] >= samples[-1][0] / 2]
    rss = [v for _, v in samples]
    return {"published": pub["sent"], "samples": len(samples), "every_s": every,
            "rss_start_mb": rss[0], "rss_half_mb": settled[0][1], "rss_end_mb": rss[-1],
            "rss_max_mb": max(rss),
            "slope_mb_per_min": slope_per_min(settled),
            "rss_mb": [[round(t, 1), round(v, 2)] for t, v in samples]}
