"""IngestStats: the ingestion's counters, as Prometheus text for /metrics.

Kept in memory per worker (Prometheus sums workers); dropped messages are
counted by the protocol's reason codes plus the ingestion's own:
`unknown_device`, `revoked`, `bad_status`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

REASONS = ("too_large", "unsigned", "bad_signature", "malformed", "wrong_device",
           "replayed", "unknown_device", "revoked", "bad_status")


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    gaps: int = 0
    broken_chains: int = 0
    handler_errors: int = 0
    db_errors: int = 0
    batches: int = 0
    acks_sent: int = 0
    paused: int = 0  # times the inbox was full and reading from the broker stopped
    dropped: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    def snapshot(self) -> dict:
        return {
            "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
            "gaps": self.gaps, "broken_chains": self.broken_chains,
            "handler_errors": self.handler_errors, "db_errors": self.db_errors,
            "batches": self.batches, "acks_sent": self.acks_sent, "paused": self.paused,
            "dropped": dict(self.dropped),
        }

    def prometheus(self) -> str:
        """Prometheus text exposition lines (HELP/TYPE included)."""
        out = []
        simple = (
            ("received", "MQTT event messages received"),
            ("stored", "events stored (first time)"),
            ("duplicates", "events received again and acknowledged again"),
            ("gaps", "seq gaps seen"),
            ("broken_chains", "events whose prev does not match the body before"),
            ("handler_errors", "stored events whose order handler failed"),
            ("db_errors", "failed batch commits (retried)"),
            ("batches", "batch commits"),
            ("acks_sent", "ack commands sent"),
            ("paused", "times the inbox was full and reading from the broker paused"),
        )
        for name, what in simple:
            metric = f"fingerpos_ingest_{name}_total"
            out += [f"# HELP {metric} {what}", f"# TYPE {metric} counter",
                    f"{metric} {getattr(self, name)}"]
        out += ["# HELP fingerpos_dropped_total messages dropped, by reason",
                "# TYPE fingerpos_dropped_total counter"]
        for reason in REASONS:
            out.append(f'fingerpos_dropped_total{{reason="{reason}"}} {self.dropped[reason]}')
        return "\n".join(out) + "\n"
