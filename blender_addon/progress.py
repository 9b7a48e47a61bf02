"""Long add-on operators as steps: Blender progress, time slices between redraws, cancel.

No bpy here (the window manager and workspace are passed in), so it is tested with stand-ins.

An operator's work is a generator that yields a :class:`Step` after each piece of work (a
frame, a build stage) and returns its final message. :class:`Job` runs it

* to the end (:meth:`Job.run`: a call from Python or background mode), or
* in time slices (:meth:`Job.run_slice`: the modal operator on each timer event). Between two
  slices Blender handles events (Esc) and redraws the window. A redraw after a frame change
  took 0.2 to 2 s with software OpenGL (Xvfb, llvmpipe; a GPU display is far faster), so one
  frame per event made the panel 10 to 14 times slower than a direct call there. A slice lasts
  until the work is ``work_share`` (90 %) of the wall time: the time Blender spent between the
  previous slice and this one is measured, and the slice lasts ``work_share / (1 - work_share)``
  times as long (at least ``min_slice``, at most ``max_slice``: Esc is seen within that). The
  operator runs the first slice right away in ``invoke`` (before Blender redraws at all), sized
  from the redraw time of the previous job.

Progress reaches Blender through ``window_manager.progress_begin/update/end`` (the progress
cursor) and ``workspace.status_text_set`` (the status bar: the job, done/total, time left, "Esc
to cancel"); both are reset when the job ends, is cancelled or fails, so the status bar never
keeps a stale message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generator, Optional

StepGenerator = Generator["Step", None, str]


@dataclass(frozen=True)
class Step:
    """Work done so far: ``done`` of ``total`` units (frames, stages) and what is being done."""

    done: int
    total: int
    text: str = ""

    @property
    def fraction(self) -> float:
        return min(max(self.done / self.total, 0.0), 1.0) if self.total > 0 else 0.0


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min``, ``1.5 h``, ``2.1 days``."""
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class Job:
    """Runs a step generator with Blender progress; see the module docstring.

    Args:
        title: shown in the status bar, e.g. "Render Benchmark".
        steps: the operator's generator.
        window_manager: anything with ``progress_begin/update/end`` (``context.window_manager``).
        workspace: anything with ``status_text_set`` (``context.workspace``), or None.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, title: str, steps: StepGenerator, window_manager, workspace=None,
                 work_share: float = 0.9, min_slice: float = 0.05, max_slice: float = 10.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.title, self.steps = title, steps
        self.wm, self.workspace, self.clock = window_manager, workspace, clock
        self.work_share, self.min_slice, self.max_slice = work_share, min_slice, max_slice
        self.step: Optional[Step] = None
        self.message: Optional[str] = None  # the generator's final message once finished
        self.started = self.clock()
        self.ui_seconds: Optional[float] = None  # smoothed time Blender takes between slices
        self._slice_end: Optional[float] = None
        self._shown = -1.0
        self._open = True
        self.wm.progress_begin(0, 100)
        self._status(f"{title}: starting (Esc to cancel)")

    # ---- running ----------------------------------------------------------------------------

    def _advance(self) -> bool:
        """One step; True when the generator finished (``message`` is set)."""
        try:
            self.step = next(self.steps)
        except StopIteration as stop:
            self.message = stop.value or f"{self.title} finished"
            return True
        return False

    def run(self, refresh: float = 0.25) -> str:
        """Run to the end (synchronously); progress shown at most every ``refresh`` seconds."""
        try:
            while not self._advance():
                if self.clock() - self._shown >= refresh:
                    self.show()
        finally:
            self.end()
        return self.message

    def slice_budget(self) -> float:
        """How long the next slice may run (see the module docstring)."""
        if self.ui_seconds is None:
            return self.min_slice
        budget = self.ui_seconds * self.work_share / (1.0 - self.work_share)
        return min(max(budget, self.min_slice), self.max_slice)

    def run_slice(self, budget: Optional[float] = None) -> bool:
        """Advance for one time slice (``budget`` seconds, default :meth:`slice_budget`); True
        when the job finished (then it is also ended)."""
        start = self.clock()
        if self._slice_end is not None:
            between = start - self._slice_end
            self.ui_seconds = between if self.ui_seconds is None else 0.5 * (self.ui_seconds + between)
        budget = self.slice_budget() if budget is None else budget
        try:
            while True:
                if self._advance():
                    self.end()
                    return True
                if self.clock() - start >= budget:
                    break
        except BaseException:
            self.end()
            raise
        self.show()
        self._slice_end = self.clock()
        return False

    def cancel(self) -> None:
        """Stop the work (the generator's ``finally`` blocks run) and end the progress."""
        try:
            self.steps.close()
        finally:
            self.end()

    # ---- showing ----------------------------------------------------------------------------

    def eta(self) -> Optional[float]:
        """Seconds left, extrapolated from the time so far (None before any progress)."""
        if self.step is None or self.step.done <= 0 or self.step.total <= 0:
            return None
        elapsed = self.clock() - self.started
        return elapsed * (self.step.total - self.step.done) / self.step.done

    def status_text(self) -> str:
        step = self.step
        if step is None:
            return f"{self.title}: starting (Esc to cancel)"
        eta = self.eta()
        left = f", about {format_duration(eta)} left" if eta is not None else ""
        what = f" {step.text}" if step.text else ""
        return (f"{self.title}: {100 * step.fraction:.0f} % ({step.done}/{step.total}){left};{what}"
                f" (Esc to cancel)")

    def show(self) -> None:
        if self.step is not None:
            self.wm.progress_update(100.0 * self.step.fraction)
        self._status(self.status_text())
        self._shown = self.clock()

    def _status(self, text: Optional[str]) -> None:
        if self.workspace is not None:
            self.workspace.status_text_set(text)

    def end(self) -> None:
        """End the progress cursor and give the status bar back (idempotent)."""
        if self._open:
            self._open = False
            self.wm.progress_end()
            self._status(None)
