"""The gateway's counters in the Prometheus text exposition format 0.0.4 (sans-I/O).

The SDK's :class:`~redis_fintech_sdk.observability.PrometheusMetrics` is a push-style
``Metrics`` backend (instruments created from a catalogue, incremented as events happen, and
it needs the optional ``prometheus-client``). The gateway already keeps its counters as plain
numbers in the hub and the access guard, so ``GET /metrics`` renders a snapshot of them
directly: no extra dependency, no second copy of each counter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ._access import AccessStatistics
from ._hub import HubStatistics
from ._resume import ResumeStatistics

__all__ = ["CONTENT_TYPE", "Family", "gateway_families", "render"]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""The content type of the text exposition format."""

PREFIX = "rfsdk_gateway_"


@dataclass(frozen=True)
class Family:
    """One metric family: name, type (``counter`` / ``gauge``), help and its samples.

    Counter names end in ``_total``, as the exposition format expects.
    """

    name: str
    kind: str
    help: str
    samples: Sequence[tuple[Mapping[str, str], float]] = field(default_factory=tuple)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return repr(float(value))


def render(families: Iterable[Family]) -> str:
    """The families as exposition text (``# HELP``, ``# TYPE`` and one line per sample)."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for labels, value in fam.samples:
            if labels:
                inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                lines.append(f"{fam.name}{{{inner}}} {_number(value)}")
            else:
                lines.append(f"{fam.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _one(name: str, kind: str, help: str, value: float) -> Family:
    return Family(PREFIX + name, kind, help, (({}, value),))


def _by(
    name: str, kind: str, help: str, label: str, values: Mapping[str, int], keys: Iterable[str]
) -> Family:
    # Known label values are always present (0 until used), so rate() works from the start.
    every = dict.fromkeys(keys, 0) | dict(values)
    return Family(PREFIX + name, kind, help, tuple(({label: k}, v) for k, v in every.items()))


def gateway_families(
    hub: HubStatistics,
    access: AccessStatistics,
    resume: ResumeStatistics,
    *,
    clients_by_transport: Mapping[str, int],
    redis_ok: bool,
    uptime_seconds: float,
) -> list[Family]:
    """Every ``rfsdk_gateway_*`` family from a snapshot of the counters.

    Labels stay bounded: transports, actions and refusal codes only — never channel names
    or subjects (those are in ``/v1/metrics`` and ``/v1/admin/channels``).
    """
    transports = ("sse", "ws")
    return [
        _by("clients", "gauge", "Clients connected now", "transport", clients_by_transport,
            transports),
        _one("subscriptions", "gauge", "Redis channel and pattern subscriptions held",
             len(hub.subscriptions)),
        _by("connections_total", "counter", "Client connections accepted", "transport",
            access.connections, transports),
        _one("messages_received_total", "counter", "Messages read from Redis", hub.received),
        _one("messages_fanned_out_total", "counter", "Messages queued to clients (one per client)",
             hub.fanned_out),
        _one("messages_dropped_total", "counter", "Messages dropped by client queue policies",
             hub.dropped),
        _one("messages_missed_total", "counter",
             "Messages Redis never delivered (per-producer sequence gaps)", hub.gaps),
        _one("bad_frames_total", "counter", "SDK frames that failed to decode (skipped)",
             hub.bad_frames),
        _by("auth_refusals_total", "counter", "Requests refused for a token or permission",
            "code", {"unauthorized": access.unauthorized, "forbidden": access.forbidden},
            ("unauthorized", "forbidden")),
        _by("rate_limited_total", "counter", "Requests refused by a per-principal rate limit",
            "action", access.rate_limited, ("connect", "publish")),
        _one("admin_publishes_total", "counter", "Messages published through the admin API",
             access.admin_publishes),
        _one("audit_errors_total", "counter", "Audit events the sink failed to record",
             access.audit_errors),
        _one("resumes_total", "counter", "SSE connections that came with a Last-Event-ID",
             resume.resumes),
        _one("messages_replayed_total", "counter", "Messages replayed from replay streams",
             resume.replayed),
        _by("resume_gaps_total", "counter", "Gap events sent instead of a (full) replay",
            "reason", resume.gaps,
            ("replay_unavailable", "replay_window_exceeded", "replay_truncated")),
        _one("upstream_connected", "gauge", "1 when the shared Redis subscription is connected",
             1 if hub.upstream_connected else 0),
        _one("redis_up", "gauge", "1 when Redis answered the last PING", 1 if redis_ok else 0),
        _one("uptime_seconds", "gauge", "Seconds since the gateway started", uptime_seconds),
    ]  # fmt: skip
