"""Training, evaluation and reporting of the benchmark's pose models (torch, matplotlib).

Library API (what ``occpose-bench train``/``evaluate``/``run`` call):

* :func:`load_sequences` -- PoseSequences from a benchmark directory or a VideoPose3D ``.npz``;
* :class:`RunSettings` -- one run's model, seed and inputs, saved as ``RUN/settings.json``;
* :func:`train_model` -> :class:`RunResult` -- train or resume one run;
* :func:`evaluate_runs` -> dict -- per-level metrics of runs, grouped by model over seeds, with
  ``results.json``/``.csv``, ``report.md`` and plots.

Modules: ``settings`` (RunSettings), ``inputs`` (2D input sources, detector-noise model),
``data`` (windows, flips), ``inference`` (models from settings, whole-sequence prediction),
``checkpoint``, ``train``, ``evaluate``, ``report``, ``device``, ``distributed``, ``calibrate``
(fits the detector-noise model to an image model's detections, ``occpose-bench
calibrate-noise``), ``toy`` (tiny synthetic benchmarks for tests).
"""

from .evaluate import evaluate_runs
from .loading import load_sequences, split_sequences
from .settings import RunSettings
from .train import RunResult, train_model

__all__ = ["RunSettings", "RunResult", "train_model", "evaluate_runs", "load_sequences",
           "split_sequences"]
