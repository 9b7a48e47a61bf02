"""Device choice and mixed precision: CUDA when available (or asked for), else CPU."""

from __future__ import annotations

import contextlib

import torch

from ..errors import OccposeError

__all__ = ["resolve_device", "autocast", "flush_denormal"]


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N`` -> a torch device.

    Raises:
        OccposeError: CUDA asked for but not available, or an unknown device name.
    """
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise OccposeError(f"--device {name}: CUDA is not available (torch "
                               f"{torch.__version__}); use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise OccposeError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s)")
        return dev
    raise OccposeError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N")


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op context on CPU (training and inference stay float32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def flush_denormal():
    """Subnormal floats flushed to zero on the CPU while the block runs (x86's subnormal path is
    slow: gradients through saturated sigmoids and near-zero softmax weights crawl through it,
    several times slower per epoch); the previous setting is restored."""
    flushed = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flushed:
            torch.set_flush_denormal(False)
