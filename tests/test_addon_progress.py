"""blender_addon.progress (no bpy): time slices, Blender progress calls, cancel."""

from __future__ import annotations

import pytest

from blender_addon.progress import Job, Step, format_duration


class Recorder:
    """Stands in for window_manager and workspace: records the progress calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def progress_begin(self, lo, hi):
        self.calls.append(("begin", lo, hi))

    def progress_update(self, value):
        self.calls.append(("update", value))

    def progress_end(self):
        self.calls.append(("end",))

    def status_text_set(self, text):
        self.calls.append(("status", text))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def work(n: int, clock: Clock, seconds: float, log: list):
    try:
        for i in range(n):
            clock.t += seconds
            log.append(i)
            yield Step(i + 1, n, f"item {i}")
    finally:
        log.append("closed")
    return f"did {n}"


def test_run_to_the_end_reports_progress_and_resets_the_status_bar():
    rec, clock, log = Recorder(), Clock(), []
    job = Job("Thing", work(10, clock, 0.1, log), rec, rec, clock=clock)
    assert job.run(refresh=0.25) == "did 10"
    assert rec.calls[0] == ("begin", 0, 100) and rec.calls[-2:] == [("end",), ("status", None)]
    updates = [c[1] for c in rec.calls if c[0] == "update"]
    assert updates == sorted(updates) and 0 < len(updates) < 10  # throttled to every 0.25 s
    texts = [c[1] for c in rec.calls if c[0] == "status" and c[1]]
    assert all("Esc to cancel" in t for t in texts) and any("left" in t for t in texts)


def test_slices_grow_with_the_time_blender_takes_between_them():
    rec, clock, log = Recorder(), Clock(), []
    job = Job("Thing", work(200, clock, 0.1, log), rec, rec, clock=clock, work_share=0.9,
              min_slice=0.05, max_slice=5.0)  # 5 s cap here
    assert job.run_slice() is False and len(log) == 1  # no measurement yet: one minimal slice
    clock.t += 1.0  # Blender redraws for 1 s
    assert job.slice_budget() == 0.05
    job.run_slice()
    assert job.ui_seconds == pytest.approx(1.0) and job.slice_budget() == pytest.approx(5.0)  # capped
    n = len(log)
    clock.t += 0.2
    job.run_slice()  # ui 0.6 s smoothed -> 5.4 s budget, capped at 5 s: 50 steps of 0.1 s
    assert len(log) - n in (50, 51)  # float steps of 0.1 s
    clock.t += 0.01
    while not job.run_slice():
        clock.t += 0.01
    assert job.message == "did 200" and rec.calls[-2:] == [("end",), ("status", None)]


def test_work_share_bounds_the_overhead():
    """With a 1 s redraw between slices the work gets 90 % of the time (max_slice permitting)."""
    rec, clock, log = Recorder(), Clock(), []
    job = Job("Thing", work(2000, clock, 0.01, log), rec, rec, clock=clock, max_slice=60.0)
    t0 = clock.t
    while not job.run_slice():
        clock.t += 1.0
    work_time = 2000 * 0.01
    assert work_time / (clock.t - t0) > 0.8


def test_cancel_closes_the_work_and_ends_progress():
    rec, clock, log = Recorder(), Clock(), []
    job = Job("Thing", work(10, clock, 0.1, log), rec, rec, clock=clock)
    job.run_slice()
    job.cancel()
    assert log[-1] == "closed" and job.message is None
    assert rec.calls[-2:] == [("end",), ("status", None)]
    job.cancel()  # idempotent
    assert [c for c in rec.calls if c[0] == "end"] == [("end",)]


def test_failure_ends_progress():
    rec, clock = Recorder(), Clock()

    def broken():
        yield Step(1, 2)
        raise OSError(13, "Permission denied", "/out")

    job = Job("Thing", broken(), rec, rec, clock=clock)
    with pytest.raises(OSError):
        job.run_slice()
    assert rec.calls[-2:] == [("end",), ("status", None)]


def test_format_duration():
    assert [format_duration(x) for x in (5, 600, 7200, 3 * 86400)] == ["5 s", "10 min", "2.0 h", "3.0 days"]
