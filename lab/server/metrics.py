"""Prometheus metrics: request latency histograms and the event-loop lag gauge, at `GET /metrics`.

One registry per process (not prometheus_client's global one) so that building several apps in
one process, as the tests do, never registers a metric twice.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from lab.instruments import INSTRUMENTS, Instruments

REGISTRY = CollectorRegistry()

# Buckets from 1 ms to 30 s: a healthy handler lands low, a serialized burst lands high.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "lab_request_duration_seconds",
    "Time from a request entering the app to its response starting.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
LOOP_LAG_SECONDS = Histogram(
    "lab_event_loop_lag_seconds",
    "How late the heartbeat woke up: time the event loop was blocked.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
    registry=REGISTRY,
)
_LAG_MAX = Gauge("lab_event_loop_lag_max_seconds", "Worst loop lag since the last reset.", registry=REGISTRY)
_IN_FLIGHT = Gauge("lab_requests_in_flight", "Requests inside the app right now.", registry=REGISTRY)
_PEAK_IN_FLIGHT = Gauge("lab_requests_in_flight_peak", "Most requests inside the app at once.", registry=REGISTRY)
_TOKENS_PEAK = Gauge("lab_thread_tokens_peak", "Most AnyIO thread-pool tokens borrowed at once.", registry=REGISTRY)
_TOKENS_TOTAL = Gauge("lab_thread_tokens_total", "AnyIO thread-pool tokens available.", registry=REGISTRY)


def render(instruments: Instruments = INSTRUMENTS) -> bytes:
    """The Prometheus text exposition, with the gauges refreshed from the instruments."""
    _LAG_MAX.set(instruments.lag_max_s)
    _IN_FLIGHT.set(instruments.in_flight.current)
    _PEAK_IN_FLIGHT.set(instruments.in_flight.peak)
    _TOKENS_PEAK.set(instruments.tokens_peak)
    _TOKENS_TOTAL.set(instruments.tokens_total)
    return generate_latest(REGISTRY)
