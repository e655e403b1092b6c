"""Optional py-spy profiles of service workers during a benchmark phase.

``python -m bench --profile DIR`` records the workers of the producer during
the 32-connection ``/send`` run, those of the consumer during the page run and
those of the ingest consumer with the configured worker count. The files are
in py-spy's raw format (collapsed stacks with a sample count each), and
``DIR/summary.txt`` lists the costliest functions of each phase. py-spy
itself takes CPU, so the numbers of a profiled run are not written to
BENCHMARKS.md.
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SAMPLE_RATE = 100  # samples per second
_STOP_TIMEOUT = 20.0
_LINE_NUMBER = re.compile(r":\d+\)$")
# Frames under every sample of a thread or of a gunicorn worker. The
# total-time list leaves them out because they do not locate a cost.
_SCAFFOLDING = ("(threading.py)", "(<frozen runpy>)", "(gunicorn/arbiter.py)",
                "(gunicorn/app/", "(gunicorn/__main__.py)")


class Profiler:
    """py-spy record processes, two per profiled pid."""

    def __init__(self, directory: Path) -> None:
        self.executable = _find_py_spy()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._running: list[tuple[subprocess.Popen, Path]] = []
        self.outputs: dict[str, list[Path]] = collections.defaultdict(list)

    def start(self, label: str, pids: list[int]) -> None:
        """Start sampling ``pids`` until ``stop``; ``label`` names the outputs.

        Each pid gets two recordings. "gil" samples only the thread that
        holds the GIL, so it shows the Python work that limits a worker.
        "active" samples every thread that the kernel reports running or
        runnable, which adds native work done without the GIL (SQLite
        queries, librdkafka calls) but also threads waiting for a core.
        """
        for pid in pids:
            for mode, extra in (("gil", ["--gil"]), ("active", [])):
                output = self.directory / f"{label}-{mode}-{pid}.txt"
                process = subprocess.Popen(
                    [
                        self.executable, "record",
                        "--pid", str(pid),
                        "--rate", str(SAMPLE_RATE),
                        "--format", "raw",
                        "--nonblocking",
                        *extra,
                        "--output", str(output),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                self._running.append((process, output))
                self.outputs[f"{label}, {mode}"].append(output)

    def stop(self) -> None:
        """Stop every recording with SIGINT, which makes py-spy write its file."""
        for process, _ in self._running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, output in self._running:
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                print(f"py-spy for {output} did not stop; killed it")
        self._running.clear()

    def write_summary(self, top: int = 25) -> Path:
        """Write the top functions by own and by total samples for each label."""
        sections = []
        for label, outputs in self.outputs.items():
            sections.append(summarize([path for path in outputs if path.exists()],
                                      label, top))
        path = self.directory / "summary.txt"
        path.write_text("\n".join(sections))
        return path


def _find_py_spy() -> str:
    """Return the py-spy next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    found = shutil.which("py-spy")
    if found is None:
        raise RuntimeError(
            "py-spy is not installed; install it with '.venv/bin/pip install py-spy'"
        )
    return found


def _function(frame: str) -> str:
    """Drop the line number from a py-spy frame ``name (file:line)``."""
    return _LINE_NUMBER.sub(")", frame.replace(os.getcwd() + "/", ""))


def summarize(paths: list[Path], label: str, top: int) -> str:
    """Return the ``top`` functions by own samples and by total samples."""
    own: collections.Counter = collections.Counter()
    total: collections.Counter = collections.Counter()
    samples = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_function(frame) for frame in stack.split(";")]
            samples += count
            own[frames[-1]] += count
            for frame in set(frames):
                total[frame] += count

    lines = [f"== {label}: {samples} samples from {len(paths)} processes"]
    if samples == 0:
        return "\n".join(lines) + "\n"
    for frame in list(total):
        if any(marker in frame for marker in _SCAFFOLDING):
            del total[frame]
    for title, counter in (("own time", own), ("total time", total)):
        lines.append(f"-- top {top} by {title}")
        for frame, count in counter.most_common(top):
            lines.append(f"{100 * count / samples:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def wait_for_workers(pids_of, count: int, timeout: float = 10.0) -> list[int]:
    """Poll ``pids_of()`` until it lists ``count`` pids; return what it lists."""
    deadline = time.monotonic() + timeout
    pids = pids_of()
    while len(pids) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        pids = pids_of()
    return pids
