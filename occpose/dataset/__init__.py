"""The dataset format (ARCHITECTURE.md; as built: docs/format.md): writer and validating reader."""

from .manifest import SequenceEntry, frame_path, sequence_id
from .npz import read_npz, sha256_file, write_npz
from .reader import Benchmark, Sequence, open_benchmark
from .schema import ARRAYS, FORMAT, validate_arrays
from .writer import BenchmarkWriter

__all__ = ["ARRAYS", "FORMAT", "Benchmark", "BenchmarkWriter", "Sequence", "SequenceEntry",
           "frame_path", "open_benchmark", "read_npz", "sequence_id", "sha256_file", "validate_arrays", "write_npz"]
