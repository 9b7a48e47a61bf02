"""Run checkpoints: one ``RUN/checkpoint.pt``, replaced atomically after every epoch.

Format (a dict of tensors and plain Python types only, so ``torch.load(weights_only=True)``
reads it without unpickling code)::

    format      "occpose-checkpoint/1"
    epoch       epochs completed
    model       state_dict (the TemporalModel / occlusion-aware / linear keys; the strided
                training TCN shares its keys with the dilated evaluation TCN)
    optimizer   Adam state_dict
    lr          learning rate of the last completed epoch
    rng         {"torch": uint8 tensor, "cuda": [uint8 tensors]} global RNG states
    settings    RunSettings as a dict
    metrics     list of per-epoch metric dicts (also in RUN/metrics.jsonl), without the
                wall-clock keys of :data:`WALL_CLOCK` (those are only in RUN/metrics.jsonl)

Writing: ``torch.save`` into memory, then to a temporary file in RUN, fsync, ``os.replace``.
Same inputs and seed give the same checkpoint bytes: nothing in it depends on the time or on
the temporary file's name (``torch.save`` to a file names the archive after the file; into
memory it is always ``archive``), and measured times live only in the log ``metrics.jsonl``,
from which :func:`load_checkpoint` merges them back into ``metrics`` so a resumed run keeps them.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import torch

from ..dataset.atomic import atomic_write_bytes, atomic_write_text
from ..errors import OccposeError

__all__ = ["CHECKPOINT_FILE", "METRICS_FILE", "save_checkpoint", "load_checkpoint",
           "write_metrics_log", "rng_state", "set_rng_state"]

CHECKPOINT_FORMAT = "occpose-checkpoint/1"
CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.jsonl"
WALL_CLOCK = ("time_s", "seconds", "images_per_s")  # per-epoch metrics that are measured times


def rng_state() -> dict:
    """Global torch RNG states (CPU, and every CUDA device when initialised) as tensors."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {"torch": torch.get_rng_state(), "cuda": list(cuda)}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict, fmt: str = CHECKPOINT_FORMAT) -> None:
    """Atomically write a checkpoint dict tagged with its format (see the module docstring)."""
    state = dict(state)
    if isinstance(state.get("metrics"), list):
        state["metrics"] = [_without_wall_clock(m) for m in state["metrics"]]
    buf = io.BytesIO()
    torch.save(_canonical({"format": fmt, **state}), buf)
    _remove_stale_temporaries(Path(path))
    atomic_write_bytes(path, buf.getvalue())


def _remove_stale_temporaries(path: Path) -> None:
    """Temporaries of ``path`` left by a killed run (one process writes a run's files)."""
    for p in path.parent.glob(f".{path.name}.*.tmp"):
        p.unlink(missing_ok=True)


def _canonical(obj):
    """A copy whose pickle depends only on the values, not on the objects' history.

    Pickle writes an object seen before as a back-reference, by identity: a resumed run's
    unpickled strings and tuples are other objects than a fresh run's, so the same values gave
    other bytes. Here every string is interned (equal strings: one object) and every container
    is new (never shared); tensors are kept as they are.
    """
    import sys
    from collections import OrderedDict

    if isinstance(obj, str):
        return sys.intern(str(obj))
    if isinstance(obj, dict):
        out = (OrderedDict if isinstance(obj, OrderedDict) else dict)(
            (_canonical(k), _canonical(v)) for k, v in obj.items())
        meta = getattr(obj, "_metadata", None)   # torch state_dict versions
        if meta is not None:
            out._metadata = _canonical(meta)
        return out
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_canonical(v) for v in obj)
    return obj


def _without_wall_clock(m):
    return {k: v for k, v in m.items() if k not in WALL_CLOCK} if isinstance(m, dict) else m


def load_checkpoint(path: str | Path, map_location="cpu", fmt: str = CHECKPOINT_FORMAT) -> dict:
    """Read a checkpoint of format ``fmt`` with ``weights_only=True``; OccposeError naming the
    file on problems."""
    path = Path(path)
    if not path.is_file():
        raise OccposeError(f"{path}: no checkpoint; the run has not finished an epoch yet")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OccposeError(f"{path}: unreadable checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise OccposeError(f"{path}: not an {fmt} checkpoint")
    if isinstance(ckpt.get("metrics"), list):
        ckpt["metrics"] = _with_timings(ckpt["metrics"], path.parent / METRICS_FILE)
    return ckpt


def _with_timings(metrics: list, timings_path: Path) -> list:
    """``metrics`` with the measured times of the run's log put back by epoch (if readable)."""
    times = {}
    try:
        for line in timings_path.read_text("utf-8").splitlines():
            t = json.loads(line)
            if isinstance(t, dict) and "epoch" in t:
                times[t["epoch"]] = {k: v for k, v in t.items() if k in WALL_CLOCK}
    except (OSError, ValueError):
        return metrics
    return [{**m, **times.get(m.get("epoch"), {})} if isinstance(m, dict) else m for m in metrics]


def write_metrics_log(path: str | Path, metrics: list[dict]) -> None:
    """Rewrite ``metrics.jsonl`` (one JSON object per epoch) atomically from the full history.

    It is the run's log and the one file of a run that holds measured times (:data:`WALL_CLOCK`);
    ``checkpoint.pt`` and ``settings.json`` have the same bytes for the same inputs and seed."""
    _remove_stale_temporaries(Path(path))
    atomic_write_text(path, "".join(json.dumps(m, sort_keys=True) + "\n" for m in metrics))
