"""occpose.tomlsubset (the TOML reader for Python 3.10 Blenders) against the standard tomllib."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from occpose import tomlsubset

REPO = Path(__file__).resolve().parents[1]
PRESETS = sorted(REPO.glob("scenes/**/*.toml")) + sorted(REPO.glob("tests/data/*.toml"))

DOCUMENTS = [
    'a = 1\nb = -2\nc = +3\nd = 1_000\ne = 0x1F\nf = 0o17\ng = 0b101\n',
    'x = 1.5\ny = -0.25e-3\nz = 6.02E23\nw = 1_0.5\nv = 3e2\n',
    'p = inf\nq = -inf\n',
    't = true\nf = false # comment\n',
    's = "a\\tb\\n\\"q\\" \\u00e9 \\U0001F600"\nl = \'C:\\path\\x\'\n',
    'm = """\nline1\nline2 \\\n   cont"""\nn = \'\'\'\nraw \\n\nx\'\'\'\nq = """say ""hi"" """\n',
    'arr = [1, 2, 3]\nnested = [[1, 2], ["a", "b"]]\nmulti = [\n  1,  # one\n  2,\n]\nempty = []\n',
    '[t]\nk = "v"\n[t.sub]\nk2 = 2\n[other]\n',
    '[[cams]]\nname = "a"\n[[cams]]\nname = "b"\n[cams.extra]\nz = 1\n',
    'inline = { a = 1, b = "x", c.d = [1, 2] }\nempty = {}\n',
    'a.b.c = 1\na.b.d = 2\n"quoted key" = 3\n\'lit key\' = 4\nbare-key_1 = 5\n',
    '\n\n# only comments\n\n   \n',
    'k = "v"\r\nj = 2\r\n',
]

INVALID = [
    'a = \n',
    'a = 1\na = 2\n',
    '[t]\n[t]\n',
    'a = "unterminated\n',
    'a = 1 2\n',
    'a = [1, 2\n',
    'a = {b = 1\n',
    's = "\\q"\n',
    'x = 01\n',
    '= 1\n',
    'a = [1]\n[[a]]\n',
    'a = {b = 1}\n[a.c]\n',
]


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: str(p.relative_to(REPO)))
def test_presets_parse_like_tomllib(path):
    text = path.read_text("utf-8")
    assert tomlsubset.loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_documents_parse_like_tomllib(text):
    assert tomlsubset.loads(text) == tomllib.loads(text)


def test_nan():
    assert math.isnan(tomlsubset.loads("n = nan")["n"]) and math.isnan(tomlsubset.loads("n = -nan")["n"])


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_are_errors_like_tomllib(text):
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    with pytest.raises(tomlsubset.TOMLDecodeError, match=r"at line \d+"):
        tomlsubset.loads(text)


def test_error_names_the_line():
    with pytest.raises(tomlsubset.TOMLDecodeError, match="at line 3"):
        tomlsubset.loads("a = 1\nb = 2\nc = [1, ?]\n")


def test_dates_are_refused_clearly():
    with pytest.raises(tomlsubset.TOMLDecodeError, match="dates and times are not supported"):
        tomlsubset.loads("d = 1979-05-27\n")


PY310 = Path(os.environ.get("OCCPOSE_PY310", "/root/.pyenv/versions/3.10.13/bin/python3"))  # with numpy


@pytest.mark.skipif(not PY310.is_file(), reason="no Python 3.10 (set OCCPOSE_PY310)")
def test_config_loads_under_python310(tmp_path):
    """The presets load with Python 3.10 (no tomllib), as inside Blender 3.4 to 4.0, when numpy is there."""
    probe = subprocess.run([str(PY310), "-c", "import numpy"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("pyenv's Python 3.10 has no numpy")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from occpose.config import load_config; "
              "cfg = load_config(sys.argv[2], ['render.samples=3']); "
              "print(cfg.benchmark.frames, cfg.render.samples, len(cfg.cameras))")
    proc = subprocess.run([str(PY310), "-c", script, str(REPO), str(REPO / "scenes" / "quick.toml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["150", "3", "2"]
