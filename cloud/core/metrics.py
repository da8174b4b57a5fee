"""A tiny Prometheus text-format registry: counters and gauges with labels.

Hand-written rather than prometheus_client because the cloud needs only two
metric kinds, one registry per app (tests run several apps in one process,
which prometheus_client's global registry makes awkward), and no extra
dependency. Ingestion (cloud-b) and the core both register here:

    metrics = app[METRICS]
    metrics.counter("fingerpos_events_dropped_total", "Events dropped", reason="bad_signature").inc()
"""

from __future__ import annotations

from collections.abc import Callable


class Metric:
    """One time series: a name, a fixed label set, and a value."""

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def set(self, value: float) -> None:
        self.value = value


class Registry:
    """Families of metrics by name; each family holds one series per label set."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, dict[tuple, Metric]]] = {}
        self._collectors: list[Callable[[Registry], None]] = []

    def _series(self, kind: str, name: str, help_: str, labels: dict[str, str]) -> Metric:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = (kind, help_, {})
        elif family[0] != kind:
            raise ValueError(f"metric {name} is a {family[0]}, not a {kind}")
        key = tuple(sorted(labels.items()))
        series = family[2].get(key)
        if series is None:
            series = family[2][key] = Metric()
        return series

    def counter(self, name: str, help_: str, **labels: str) -> Metric:
        """A value that only goes up (name should end in _total)."""
        return self._series("counter", name, help_, labels)

    def gauge(self, name: str, help_: str, **labels: str) -> Metric:
        """A value that goes up and down."""
        return self._series("gauge", name, help_, labels)

    def add_collector(self, collect: Callable[[Registry], None]) -> None:
        """Register a function that sets gauges just before each scrape."""
        self._collectors.append(collect)

    def render(self) -> str:
        """The Prometheus text exposition format, version 0.0.4."""
        for collect in self._collectors:
            collect(self)
        lines: list[str] = []
        for name in sorted(self._families):
            kind, help_, series = self._families[name]
            lines.append(f"# HELP {name} {_escape_help(help_)}")
            lines.append(f"# TYPE {name} {kind}")
            for key, metric in sorted(series.items()):
                label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in key)
                suffix = "{" + label_text + "}" if label_text else ""
                lines.append(f"{name}{suffix} {_number(metric.value)}")
        return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
