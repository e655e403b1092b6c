"""Tests of WorkerRuntime (one component per process) and in_gunicorn_master."""

import json
import os
import threading

import pytest

from common.runtime import WorkerRuntime, in_gunicorn_master


class FakeComponent:
    """A component that records its start and stop calls and its process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.starts = 0
        self.stops = 0

    def start(self) -> None:
        self.starts += 1

    def stop(self) -> None:
        self.stops += 1


class FakeFactory:
    """A component factory that keeps every component it built."""

    def __init__(self) -> None:
        self.built: list[FakeComponent] = []

    def __call__(self) -> FakeComponent:
        component = FakeComponent()
        self.built.append(component)
        return component


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


def test_runtime_component_none_before_start(factory):
    runtime = WorkerRuntime(factory)

    assert runtime.component is None
    assert factory.built == []


def test_runtime_starts_once(factory):
    runtime = WorkerRuntime(factory)

    first = runtime.ensure_started()
    second = runtime.ensure_started()

    assert second is first
    assert len(factory.built) == 1
    assert first.starts == 1
    assert runtime.component is first


def test_runtime_starts_once_across_threads(factory):
    runtime = WorkerRuntime(factory)
    barrier = threading.Barrier(8)
    results = []

    def start() -> None:
        barrier.wait()
        results.append(runtime.ensure_started())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(factory.built) == 1
    assert len(results) == 8
    assert all(result is factory.built[0] for result in results)


def test_runtime_stop(factory):
    runtime = WorkerRuntime(factory)
    component = runtime.ensure_started()

    runtime.stop()

    assert component.stops == 1
    assert runtime.component is None


def test_runtime_stop_twice(factory):
    runtime = WorkerRuntime(factory)
    component = runtime.ensure_started()

    runtime.stop()
    runtime.stop()

    assert component.stops == 1


def test_runtime_stop_before_start(factory):
    runtime = WorkerRuntime(factory)

    runtime.stop()

    assert factory.built == []


def run_in_child(child) -> dict:
    """Fork, run ``child()`` in the child and return the dict it returned.

    The child sends the dict as JSON through a pipe and leaves with
    ``os._exit``, so it never runs the rest of the test session.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        exit_code = 1
        try:
            os.close(read_fd)
            os.write(write_fd, json.dumps(child()).encode("utf-8"))
            exit_code = 0
        finally:
            os._exit(exit_code)

    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as reader:
            output = reader.read()
    finally:
        _, wait_status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(wait_status) == 0
    return json.loads(output)


def test_runtime_fresh_component_after_fork(factory):
    runtime = WorkerRuntime(factory)
    parent_component = runtime.ensure_started()

    def child() -> dict:
        inherited = runtime.component
        component = runtime.ensure_started()
        again = runtime.ensure_started()
        return {
            "inherited_is_none": inherited is None,
            "built_new": component is not parent_component,
            "second_call_same": again is component,
            "starts": component.starts,
            "built_count": len(factory.built),
            "component_pid": component.pid,
            "pid": os.getpid(),
        }

    report = run_in_child(child)

    assert report["inherited_is_none"] is True
    assert report["built_new"] is True
    assert report["second_call_same"] is True
    assert report["starts"] == 1
    assert report["built_count"] == 2
    assert report["component_pid"] == report["pid"]
    assert report["pid"] != os.getpid()
    assert runtime.component is parent_component
    assert len(factory.built) == 1


def test_runtime_child_stop_leaves_parent_component(factory):
    runtime = WorkerRuntime(factory)
    parent_component = runtime.ensure_started()

    def child() -> dict:
        runtime.stop()
        return {"parent_component_stops": parent_component.stops}

    report = run_in_child(child)

    assert report["parent_component_stops"] == 0
    assert parent_component.stops == 0
    assert runtime.component is parent_component


def test_in_gunicorn_master_plain_test():
    assert in_gunicorn_master() is False


def call_from_file(filename: str, function):
    """Call ``function`` from a frame whose code has the file name ``filename``."""
    code = compile("result = function()", filename, "exec")
    namespace = {"function": function}
    exec(code, namespace)
    return namespace["result"]


@pytest.fixture
def gunicorn_loaded():
    pytest.importorskip("gunicorn.arbiter")


def test_in_gunicorn_master_gunicorn_imported(gunicorn_loaded):
    assert in_gunicorn_master() is False


def test_in_gunicorn_master_arbiter_frame(gunicorn_loaded):
    arbiter = "/venv/site-packages/gunicorn/arbiter.py"

    assert call_from_file(arbiter, in_gunicorn_master) is True


def test_in_gunicorn_master_worker_frame(gunicorn_loaded):
    arbiter = "/venv/site-packages/gunicorn/arbiter.py"
    worker = "/venv/site-packages/gunicorn/workers/gthread.py"

    def from_worker():
        return call_from_file(worker, in_gunicorn_master)

    assert call_from_file(arbiter, from_worker) is False
