"""`/metrics` in Prometheus text format: Litestar's HTTP metrics, ours read from the running
services at scrape time, and the few that must be counted when they happen."""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.events import Event

if TYPE_CHECKING:
    from server.leaderboard.sync import SyncResult
    from server.services import Services
    from server.telegram.outbox import OutboxStats

SYNC_STAGES = ("fetch", "decode", "rank", "diff", "persist", "publish", "total")
SYNC_STATUSES = ("ok", "failed", "refused")
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
BREAKER_STATES = ("closed", "open", "half-open")
RACE_TRANSITIONS = ("created", "live", "ended", "cancelled", "settled")
OUTBOX_TIMEOUT = 2.0  # seconds a scrape waits for the outbox's row counts


# ---- HTTP: Litestar's middleware, registering into this app's registry ---------------


@dataclass
class HttpMetricsConfig(PrometheusConfig):
    """Litestar's Prometheus config with a registry of its own: its stock middleware keeps
    one class-wide set of metrics in the global registry, which two apps in one process
    (the tests build many) would share."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    created: dict[str, MetricWrapperBase] = field(default_factory=dict)


class HttpMetricsMiddleware(PrometheusMiddleware):
    _config: HttpMetricsConfig

    def _metric(self, kind: type[MetricWrapperBase], name: str, doc: str, labels: dict[str, Any], **kw: Any) -> Any:
        created = self._config.created
        if name not in created:
            created[name] = kind(name=name, documentation=doc, labelnames=[*labels], registry=self._config.registry, **kw)
        return created[name]

    def request_count(self, labels: dict[str, str | int | float]) -> Counter:
        return cast(Counter, self._metric(Counter, f"{self._config.prefix}_requests_total", "HTTP requests", labels))

    def request_time(self, labels: dict[str, str | int | float]) -> Histogram:
        return cast(
            Histogram,
            self._metric(Histogram, f"{self._config.prefix}_request_duration_seconds", "HTTP request duration, in seconds", labels, **self._kwargs),
        )

    def requests_in_progress(self, labels: dict[str, str | int | float]) -> Gauge:
        return cast(Gauge, self._metric(Gauge, f"{self._config.prefix}_requests_in_progress", "HTTP requests in progress", labels))

    def requests_error_count(self, labels: dict[str, str | int | float]) -> Counter:
        return cast(Counter, self._metric(Counter, f"{self._config.prefix}_requests_error_total", "HTTP requests answered with a 5xx", labels))


# ---- ours ------------------------------------------------------------------------------


class Metrics:
    """One app's registry and the counters fed by the services' hooks."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.services: Services | None = None
        self.outbox: OutboxStats | None = None
        disable_created_metrics()  # the *_created series double every counter for no use here
        self.registry = CollectorRegistry()
        self.http = HttpMetricsConfig(
            app_name="goated",
            prefix="goated_http",
            group_path=True,  # label by route template, not by every distinct URL
            scopes={ScopeType.HTTP},  # a websocket's "duration" is the viewer's visit
            middleware_class=HttpMetricsMiddleware,
            registry=self.registry,
        )
        r = self.registry
        self.sync_duration = Histogram(
            "goated_sync_duration_seconds", "Duration of each stage of a sync", ["stage"], registry=r, buckets=SYNC_BUCKETS
        )
        self.syncs = Counter("goated_syncs", "Syncs run by this process, by outcome", ["status"], registry=r)
        self.upstream_responses = Counter(
            "goated_upstream_responses", "Upstream requests by HTTP status (or timeout/error)", ["status"], registry=r
        )
        self.upstream_latency = Histogram(
            "goated_upstream_request_duration_seconds", "Upstream request duration", registry=r, buckets=UPSTREAM_BUCKETS
        )
        self.race_transitions = Counter(
            "goated_race_transitions", "Race lifecycle transitions made by this process", ["to"], registry=r
        )
        for status in SYNC_STATUSES:
            self.syncs.labels(status)
        for stage in SYNC_STAGES:
            self.sync_duration.labels(stage)
        for to in RACE_TRANSITIONS:
            self.race_transitions.labels(to)
        r.register(ServicesCollector(self))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def attach(self, services: Services) -> None:
        self.services = services
        services.sync.observers.append(self.observe_sync)
        services.client.observers.append(self.observe_upstream)
        services.relay.on_publish.append(self.observe_event)

    def detach(self) -> None:
        self.services = None

    def observe_sync(self, result: SyncResult) -> None:
        self.syncs.labels(result.status).inc()
        for stage, seconds in result.timings.items():
            self.sync_duration.labels(stage).observe(seconds)

    def observe_upstream(self, status: str, seconds: float) -> None:
        self.upstream_responses.labels(status).inc()
        self.upstream_latency.observe(seconds)

    def observe_event(self, event: Event) -> None:
        from server.races.messages import RaceChanged, RaceEnded, RaceStatusChanged

        if isinstance(event, RaceStatusChanged):
            self.race_transitions.labels(event.race.status.value).inc()
        elif isinstance(event, RaceEnded):
            self.race_transitions.labels("settled").inc()
        elif isinstance(event, RaceChanged) and event.reason == "created":
            self.race_transitions.labels("created").inc()

    async def refresh(self) -> None:
        """Read what lives only in the database (the Telegram outbox), with a short timeout;
        the rest is read from memory by the collector."""
        services = self.services
        self.outbox = None
        if services is None or not getattr(services.settings, "telegram_enabled", False):
            return
        from server.telegram.outbox import Outbox

        outbox = getattr(getattr(services, "telegram", None), "outbox", None) or Outbox()
        try:
            async with asyncio.timeout(OUTBOX_TIMEOUT):
                self.outbox = await outbox.stats()
        except (TimeoutError, *services.db_errors):
            self.outbox = None  # the gauges vanish; /health says why the database is down

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels or ()))
    family.add_metric(list((labels or {}).values()), value)
    return family


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class ServicesCollector(Collector):
    """Reads the state objects the services already keep, at scrape time (no I/O)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        services = self._metrics.services
        if services is None:  # not started, or shut down
            return
        now = self._metrics.clock()
        info = GaugeMetricFamily("goated_info", "This process: mode (demo/live) and channels backend", labels=["mode", "channels"])
        info.add_metric([services.mode, "redis" if services.redis is not None else "memory"], 1)
        yield info
        yield from self._websockets(services)
        yield from self._sync(services, now)
        yield from self._upstream(services, now)
        yield from self._channels(services)
        yield from self._races(services)
        yield from self._telegram(services, now)
        yield from self._tasks(services)

    def _tasks(self, services: Services) -> Iterator[Metric]:
        running = GaugeMetricFamily("goated_task_running", "1 if the supervised task is running now", labels=["task"])
        restarts = CounterMetricFamily("goated_task_restarts", "Restarts of a supervised task after it failed", labels=["task"])
        for state in services.supervisor.states():
            running.add_metric([state.name], 1 if state.status == "running" else 0)
            restarts.add_metric([state.name], state.restarts)
        yield running
        yield restarts

    def _websockets(self, services: Services) -> Iterator[Metric]:
        hub = services.hub
        yield _gauge("goated_websocket_connections", "Open websocket connections on this process", len(hub.connections))
        by_kind: Tally[str] = Tally()
        for channel, members in hub.channel_counts().items():
            by_kind[channel.partition(":")[0]] += members
        subs = GaugeMetricFamily("goated_websocket_subscriptions", "Channel subscriptions, by channel kind", labels=["kind"])
        for kind in sorted({"leaderboard", "race", *by_kind}):
            subs.add_metric([kind], by_kind[kind])
        yield subs
        yield _counter("goated_websocket_messages", "Broadcast messages queued to viewers (snapshots excluded)", hub.delivered)
        yield _counter("goated_websocket_sent_bytes", "Bytes of broadcast messages queued to viewers", hub.bytes_queued)
        yield _counter("goated_websocket_dropped_messages", "Messages not queued because the viewer was being cut off", hub.dropped)
        yield _counter("goated_websocket_slow_consumers_cut", "Viewers disconnected for falling too far behind", hub.slow_consumers_cut)
        yield _counter("goated_websocket_refused", "Connections refused (too many from one address)", services.socket_deps.refused)

    def _sync(self, services: Services, now: datetime) -> Iterator[Metric]:
        live, sync = services.live, services.sync
        yield _gauge("goated_board_version", "Version (seq) of the board in force", live.seq)
        yield _gauge("goated_board_players", "Players in the last good snapshot", len(sync.players))
        if live.synced_at is not None:
            yield _gauge("goated_sync_last_success_timestamp_seconds", "When the board in force was synced", live.synced_at.timestamp())
            yield _gauge("goated_sync_age_seconds", "Seconds since the board in force was synced", (now - live.synced_at).total_seconds())
        yield _gauge("goated_database_writes_ok", "1 if the last database write succeeded, 0 while writes are held", 1 if sync.database.ok else 0)
        yield _gauge("goated_sync_held_writes", "Syncs held in memory waiting for the database", len(sync.pending.runs))
        leadership = getattr(services, "leadership", None)
        if leadership is not None:
            yield _gauge("goated_sync_leader", "1 if this process runs the sync schedule and race lifecycle", 1 if leadership.is_leader else 0)
            yield _counter("goated_sync_leader_changes", "Times this process gained or lost the leadership", leadership.changes)

    def _upstream(self, services: Services, now: datetime) -> Iterator[Metric]:
        up, resilient = services.sync.upstream, services.upstream
        state = GaugeMetricFamily("goated_upstream_circuit_state", "Circuit breaker state (1 for the current one)", labels=["state"])
        current = resilient.breaker.current_state
        for name in BREAKER_STATES:
            state.add_metric([name], 1 if current == name else 0)
        yield state
        yield _gauge("goated_upstream_circuit_failures", "Failures the breaker has counted in a row", resilient.breaker.fail_counter)
        yield _gauge("goated_upstream_consecutive_failures", "Syncs in a row whose fetch failed", up.consecutive_failures)
        yield _gauge("goated_upstream_token_refused", "1 if the upstream refused the token (401/403) on the last sync", 1 if up.last_error_kind == "auth" else 0)
        yield _gauge("goated_upstream_rate_limited_seconds", "Seconds until the upstream's Retry-After allows a request", resilient.rate_limited_for())
        yield _counter("goated_upstream_attempts", "Upstream requests attempted (retries included)", resilient.attempts_total)
        yield _counter("goated_upstream_retries", "Upstream requests retried within a sync", resilient.retries_total)
        refused = CounterMetricFamily("goated_upstream_rows_refused", "Upstream rows refused by the row rules, by reason", labels=["reason"])
        for reason, count in sorted(up.refused_total.items()):
            refused.add_metric([reason], count)
        yield refused
        yield _gauge("goated_upstream_rows_refused_last", "Upstream rows refused from the last good response", up.refused_rows)
        if up.last_success_at is not None:
            yield _gauge("goated_upstream_last_success_timestamp_seconds", "When the upstream last answered a sync", up.last_success_at.timestamp())
        expires = services.token.expires_at
        if expires is not None and not services.settings.demo:
            yield _gauge("goated_upstream_token_expiry_timestamp_seconds", "When the upstream token expires (its JWT exp)", expires.timestamp())
            yield _gauge("goated_upstream_token_expires_in_seconds", "Seconds until the upstream token expires (negative: expired)", (expires - now).total_seconds())

    def _channels(self, services: Services) -> Iterator[Metric]:
        from server.realtime.redis_backend import ResilientRedisPubSubBackend

        backend = services.channels._backend  # noqa: SLF001 - the plugin does not expose it
        connected, reconnects = True, 0
        if isinstance(backend, ResilientRedisPubSubBackend):
            connected, reconnects = backend.connected, backend.reconnects
        relay = services.relay
        yield _gauge("goated_channels_connected", "1 if the channels backend (Redis) is connected (always 1 in memory)", 1 if connected else 0)
        yield _counter("goated_channels_reconnects", "Reconnections to Redis", reconnects)
        yield _counter("goated_channels_events_received", "Events received from the channels backend", relay.received)
        yield _counter("goated_channels_publish_errors", "Events that could not be published to other processes", relay.publish_errors)
        yield _counter("goated_channels_resyncs", "Reloads from the database begun because events may have been missed (a gap in board versions, a Redis reconnect, a relay restart)", relay.resyncs)
        yield _gauge("goated_channels_relay_running", "1 if the event relay task is running", 1 if services.supervisor.running("relay") else 0)

    def _races(self, services: Services) -> Iterator[Metric]:
        if services.races is None:
            return
        by_status: Tally[str] = Tally(race.status.value for race in services.races.live.races())
        races = GaugeMetricFamily("goated_races", "Races this process knows, by status", labels=["status"])
        for status in ("upcoming", "live", "ended", "cancelled"):
            races.add_metric([status], by_status[status])
        yield races

    def _telegram(self, services: Services, now: datetime) -> Iterator[Metric]:
        sender = getattr(getattr(getattr(services, "telegram", None), "runner", None), "sender", None)
        if sender is not None:  # the bot runs in this process
            yield _counter("goated_telegram_sent", "Telegram messages sent by this process", sender.sent)
        stats = self._metrics.outbox
        if stats is None:  # Telegram off, or the outbox unreadable
            return
        yield _gauge("goated_telegram_outbox_backlog", "Telegram messages waiting to be sent", stats.backlog)
        yield _gauge("goated_telegram_outbox_failed", "Telegram messages given up on (a user blocked the bot)", stats.failed)
        if stats.oldest_at is not None:
            yield _gauge("goated_telegram_outbox_oldest_age_seconds", "Age of the oldest message waiting", (now - _utc(stats.oldest_at)).total_seconds())
        if stats.last_sent_at is not None:
            yield _gauge("goated_telegram_last_sent_timestamp_seconds", "When the last Telegram message was sent", _utc(stats.last_sent_at).timestamp())


# ---- the endpoint --------------------------------------------------------------------


def metrics_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` may scrape."""
    expected = connection.app.state.metrics_token
    if not expected:
        return
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise NotAuthorizedException(
            "metrics token missing or wrong: send Authorization: Bearer <METRICS_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="goated-metrics"'},
        )


@get("/metrics", guards=[metrics_guard], include_in_schema=False, cache=False)
async def metrics_endpoint(state: State) -> Response[bytes]:
    await state.metrics.refresh()
    return Response(state.metrics.render(), media_type=MEDIA_TYPE)


# Prometheus's text format; Litestar adds the charset to a text/* media type itself.
MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")
