"""Closed-loop HTTP load with wrk: throughput and latency percentiles."""

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
REQUEST_TIMEOUT = "5s"
_RESULT_PREFIX = "BENCH_RESULT "


@dataclass(frozen=True)
class LoadResult:
    """Throughput and latency of one wrk run; latencies in milliseconds."""

    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


def wrk_command(url: str, connections: int, seconds: int) -> list[str]:
    """Return the wrk command line for ``connections`` connections.

    One wrk thread is enough for the rates reached here and leaves more
    of the two cores to the services.
    """
    return [
        "wrk",
        "--threads", "1",
        "--connections", str(connections),
        "--duration", f"{seconds}s",
        "--timeout", REQUEST_TIMEOUT,
        "--script", str(WRK_SCRIPT),
        url,
    ]


def describe_command(url: str, form_body: str | None, seconds: int) -> str:
    """Return the shell form of a run, with ``{connections}`` in place of -c."""
    command = wrk_command(url, 0, seconds)
    command[command.index("--connections") + 1] = "{connections}"
    command[command.index("--script") + 1] = "bench/wrk_report.lua"
    text = " ".join(shlex.quote(part) for part in command)
    text = text.replace("'{connections}'", "{connections}")
    if form_body is not None:
        text = f"BENCH_FORM_BODY={shlex.quote(form_body)} {text}"
    return text


def run_wrk(
    url: str, connections: int, seconds: int, form_body: str | None = None
) -> LoadResult:
    """Load ``url`` for ``seconds`` seconds; POST ``form_body`` when given.

    Raises ``RuntimeError`` when wrk fails or prints no result line.
    """
    env = {**os.environ, "BENCH_FORM_BODY": form_body or ""}
    completed = subprocess.run(
        wrk_command(url, connections, seconds),
        env=env,
        capture_output=True,
        text=True,
        # wrk stops by itself after --duration; this bounds a hung run.
        timeout=seconds + 30,
        check=False,
    )
    lines = [
        line for line in completed.stdout.splitlines()
        if line.startswith(_RESULT_PREFIX)
    ]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"wrk failed on {url} with status {completed.returncode}: "
            f"{completed.stderr.strip() or completed.stdout.strip()}"
        )

    result = json.loads(lines[-1].removeprefix(_RESULT_PREFIX))
    errors = sum(
        result[name]
        for name in (
            "connect_errors", "read_errors", "write_errors",
            "status_errors", "timeouts",
        )
    )
    return LoadResult(
        connections=connections,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        errors=errors,
    )
