"""docs/api.md's Python example runs as written (on a small benchmark) and stays under 40 lines."""

import re
import subprocess
import sys
from pathlib import Path

from occpose.harness.toy import write_toy_benchmark

REPO = Path(__file__).resolve().parents[1]


def test_api_example_runs(tmp_path):
    doc = (REPO / "docs" / "api.md").read_text()
    code = re.search(r"## From Python.*?```python\n(.*?)```", doc, re.S).group(1)
    assert len(code.strip().splitlines()) < 40
    bench = write_toy_benchmark(tmp_path / "bench", subjects=("S1",), actions=("walk", "box"),
                                levels=(0.0, 0.3), frames=30, test_subjects=("S4",))
    assert 'DATA, OUT = "bench/quick", "results/mine"' in code
    code = code.replace('"bench/quick"', repr(str(bench)))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("level 0.0: MPJPE ") and lines[1].startswith("level 0.3: MPJPE ")
    assert (tmp_path / "results" / "mine" / "scores.json").is_file()
    assert (tmp_path / "results" / "mine" / "report.md").read_text().startswith("# occpose score")
