"""The suite's bookkeeping: the machine it ran on, what each test cost, the workers' groups, the budget.

``conftest.py`` wires these into pytest's hooks; ``docs/testing.md`` says how they are used.

- Every test's wall time (setup, call and teardown), CPU time (its process's and the children
  it waited for) and fresh processes started are measured where it runs, on an xdist worker
  or not, and reach the controller with its teardown report.
- ``tests/durations.json`` holds each test's seconds from a whole run (``make test-durations``
  writes it): the workers get the longest groups first, and a new test over
  ``NEW_TEST_SECONDS`` is named at the end of the run.
- ``--suite-budget`` (``make test``) fails the run when it used more CPU seconds than its budget
  for this kind of CPU, or more wall time than ``WALL_BUDGET_MINUTES``.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import time

import pytest

TESTS = pathlib.Path(__file__).resolve().parents[1]
DURATIONS = TESTS / "durations.json"
NEW_TEST_SECONDS = 60.0
UNKNOWN_TEST_SECONDS = 2.0  # a test the durations file does not know yet, for ordering
WALL_BUDGET_MINUTES = 40.0
# CPU seconds of the whole suite, all processes together (measured, see docs/testing.md). A CPU with
# AVX-512 (AMD Zen 4 here) does the same work in about half the time of one without (Zen 3).
CPU_BUDGET_SECONDS = {"AVX-512": 2400.0, "no AVX-512": 4800.0}
PROCESS_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu() -> dict:
    """This machine's CPU model, core count and the flags that decide its speed here."""
    model, flags = "unknown CPU", set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {
        "model": model,
        "cores": os.cpu_count(),
        "flags": [flag for flag in PROCESS_FLAGS if flag in flags],
        "kind": "AVX-512" if "avx512f" in flags else "no AVX-512",
    }


def describe_cpu() -> str:
    info = cpu()
    have = ", ".join(info["flags"]) or "none of " + ", ".join(PROCESS_FLAGS)
    return f"{info['model']}, {info['cores']} cores, flags: {have}"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_seconds(children: bool = True) -> float:
    """CPU time of this process (user + system), plus the children it waited for."""
    usage = [resource.getrusage(resource.RUSAGE_SELF)]
    if children:
        usage.append(resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usage)


class SpawnCounter:
    """Counts the processes this one starts (``subprocess.Popen``: ``run``, kernels, servers, browsers)."""

    def __init__(self):
        self.count = 0
        self._original = subprocess.Popen.__init__
        counter = self

        def counting_init(popen, *args, **kwargs):
            counter.count += 1
            return counter._original(popen, *args, **kwargs)

        subprocess.Popen.__init__ = counting_init


def read_durations() -> dict[str, float]:
    try:
        return json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_durations(seconds: dict[str, float]) -> None:
    DURATIONS.write_text(
        json.dumps({k: round(v, 1) for k, v in sorted(seconds.items())}, indent=1) + "\n", encoding="utf-8"
    )


def plain_nodeid(nodeid: str) -> str:
    """A node id without the ``@group`` suffix that xdist's ``loadgroup`` adds (the group is the
    test's module, or the test itself: see ``group_of``)."""
    head, _, group = nodeid.partition("@")
    return head if group and (group == head or head.startswith(group + "::")) else nodeid


def group_of(item) -> str:
    """The xdist group of a test: its module, so that a module's fixtures are built once, unless
    the module is marked ``independent`` (its tests share nothing worth building once)."""
    module = item.nodeid.split("::", 1)[0]
    return item.nodeid if item.get_closest_marker("independent") else module


def longest_groups_first(items: list, durations: dict[str, float]) -> list:
    """``items`` regrouped, the groups in order of their expected seconds, longest first (each
    group's tests keep their order): with two workers, the long groups start at once and the
    short ones fill the gaps at the end."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(group_of(item), []).append(item)

    def seconds(group):
        return sum(durations.get(item.nodeid, UNKNOWN_TEST_SECONDS) for item in group)

    ordered = sorted(groups.values(), key=seconds, reverse=True)
    return [item for group in ordered for item in group]


def budget_problems(cpu_total: float, wall: float) -> list[str]:
    """What the whole run exceeded, each in one line with what to do."""
    kind = cpu()["kind"]
    budget = CPU_BUDGET_SECONDS[kind]
    problems = []
    advice = (
        "share what the new tests build (tests/helpers), shrink their workloads, or mark them slow; "
        "docs/testing.md says how"
    )
    if cpu_total > budget:
        problems.append(
            f"the suite used {cpu_total:,.0f} CPU seconds, over its budget of {budget:,.0f} on a CPU "
            f"with {kind}: {advice}"
        )
    if wall > WALL_BUDGET_MINUTES * 60:
        problems.append(
            f"the suite took {wall / 60:.1f} minutes, over its limit of {WALL_BUDGET_MINUTES:.0f} "
            f"(CI stops at 90): {advice}"
        )
    return problems


class Bookkeeper:
    """A pytest plugin (``conftest.py`` registers it) that measures each test and the whole run.

    Each test's CPU seconds and started processes are measured in the process that runs it and
    sent with its teardown report; the controller (or plain pytest) adds them up, with the wall
    time of each phase, and checks the whole run against the budget.
    """

    def __init__(self, config):
        self.config = config
        self.started = time.monotonic()
        self.spawns = SpawnCounter()
        self.tests: dict[str, dict] = {}
        self.workers_cpu: list[float] = []
        self.busy: dict[str, float] = {}  # worker -> seconds spent in tests
        self.problems: list[str] = []
        self.total_cpu = 0.0

    # In the process that runs the test (an xdist worker, or plain pytest):

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        item.suite_start = (cpu_seconds(), self.spawns.count)
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        cpu, spawns = getattr(item, "suite_start", (cpu_seconds(), self.spawns.count))
        item.user_properties.append(("suite_cpu", cpu_seconds() - cpu))
        item.user_properties.append(("suite_spawns", self.spawns.count - spawns))

    def pytest_sessionfinish(self, session):
        if hasattr(self.config, "workeroutput"):  # a worker: its CPU goes to the controller
            self.config.workeroutput["suite_cpu"] = cpu_seconds()
            return
        self.total_cpu = cpu_seconds(children=not self.workers_cpu) + sum(self.workers_cpu)
        wall = time.monotonic() - self.started
        if self.config.getoption("write_durations") and session.testsfailed == 0:
            write_durations({nodeid: row["seconds"] for nodeid, row in self.tests.items()})
        if self.config.getoption("suite_budget"):
            self.problems = budget_problems(self.total_cpu, wall)
            if self.problems and session.exitstatus == 0:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # In the controller (or plain pytest):

    def pytest_runtest_logreport(self, report):
        row = self.tests.setdefault(plain_nodeid(report.nodeid), {"seconds": 0.0, "cpu": 0.0, "spawns": 0})
        row["seconds"] += report.duration
        worker = getattr(getattr(report, "node", None), "gateway", None)
        worker = worker.id if worker is not None else "main"
        self.busy[worker] = self.busy.get(worker, 0.0) + report.duration
        for name, value in report.user_properties:
            if name in ("suite_cpu", "suite_spawns"):
                row[name.removeprefix("suite_")] += value

    def pytest_testnodedown(self, node, error):
        self.workers_cpu.append(getattr(node, "workeroutput", {}).get("suite_cpu", 0.0))

    def pytest_terminal_summary(self, terminalreporter):
        if hasattr(self.config, "workeroutput"):
            return
        write = terminalreporter.write_line
        wall = time.monotonic() - self.started
        spawns = sum(row["spawns"] for row in self.tests.values())
        terminalreporter.section("the suite's cost")
        write(f"machine: {describe_cpu()}; load average now {load_average()}")
        write(
            f"{len(self.tests)} tests, {wall / 60:.1f} min wall, {self.total_cpu:,.0f} CPU seconds "
            f"(budget {CPU_BUDGET_SECONDS[cpu()['kind']]:,.0f} on this CPU kind), {spawns} processes started"
        )
        if len(self.busy) > 1:
            write(
                "in tests: "
                + ", ".join(f"{w} {seconds / 60:.1f} min" for w, seconds in sorted(self.busy.items()))
            )
        known = read_durations()
        for nodeid, row in sorted(self.tests.items()):
            if nodeid not in known and row["seconds"] > NEW_TEST_SECONDS:
                write(
                    f"new test over {NEW_TEST_SECONDS:.0f} s: {nodeid} ({row['seconds']:.0f} s): share "
                    "what it builds (tests/helpers) or shrink it, then `make test-durations`",
                    yellow=True,
                )
        for problem in self.problems:
            write(f"over budget: {problem}", red=True, bold=True)
        if self.config.getoption("write_durations"):
            write(f"\neach file's tests, added up (for docs/testing.md; {DURATIONS.name} written):")
            for line in file_table(self.tests):
                write(line)


def file_table(tests: dict[str, dict]) -> list[str]:
    """A Markdown table: per test file, its tests' wall seconds, CPU seconds and processes started."""
    files: dict[str, dict] = {}
    for nodeid, row in tests.items():
        total = files.setdefault(nodeid.split("::", 1)[0].removeprefix("tests/"), dict.fromkeys(row, 0))
        total["tests"] = total.get("tests", 0) + 1
        for key, value in row.items():
            total[key] += value
    lines = ["| file | tests | wall s | CPU s | processes started |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, total in sorted(files.items(), key=lambda item: -item[1]["seconds"]):
        lines.append(
            f"| {name} | {total['tests']} | {total['seconds']:.1f} | {total['cpu']:.1f} | {total['spawns']} |"
        )
    everything = {
        key: sum(total[key] for total in files.values()) for key in ("tests", "seconds", "cpu", "spawns")
    }
    lines.append(
        f"| all | {everything['tests']} | {everything['seconds']:.1f} | {everything['cpu']:.1f} | "
        f"{everything['spawns']} |"
    )
    return lines
