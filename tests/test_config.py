"""Preset loading: every bad input gets a one-line error naming the file and the key."""

import pytest

from occpose.cli import main
from occpose.config import load_config
from occpose.errors import ConfigError

from .conftest import REPO


def test_presets_load():
    for name in ("quick", "h36m", "humaneva"):
        cfg = load_config(REPO / "scenes" / f"{name}.toml")
        assert cfg.benchmark.name == name
        assert set(cfg.benchmark.train_subjects) | set(cfg.benchmark.test_subjects) <= set(cfg.subjects)
    assert len(load_config(REPO / "scenes/h36m.toml").cameras) == 4
    assert len(load_config(REPO / "scenes/humaneva.toml").cameras) == 3


def test_overrides_and_seed(tiny_preset):
    cfg = load_config(tiny_preset, ["benchmark.frames=12", "visibility.rays=4"], seed=99)
    assert cfg.benchmark.frames == 12 and cfg.visibility.rays == 4 and cfg.benchmark.seed == 99
    assert cfg.sha256() != load_config(tiny_preset).sha256()


BAD = [
    ("missing", None, "preset file not found"),
    ("syntax", "[benchmark\nname = 1", "TOML syntax error.*line 1"),
    ("unknown key", "[benchmark]\nframez = 3", "unknown key 'benchmark.framez'"),
    ("wrong type", "[benchmark]\nframes = \"many\"", "'benchmark.frames' must be an integer"),
    ("zero radius", "[body]\nradii = {head = 0.0}", "'body.radii.head' must be greater than 0"),
    ("negative radius", "[body]\nradii = {thigh = -0.02}", "'body.radii.thigh' must be greater than 0"),
    ("unknown radius group", "[body]\nradii = {tail = 0.02}", "unknown key 'body.radii.tail'"),
    ("zero height", "[subjects.S1]\nheight = 0.0", "'subjects.S1.height' must be greater than 0"),
    ("negative bone factor", "[subjects.S1]\nheight = 1.7\nleg = -1.0", "'subjects.S1.leg' must be greater than 0"),
    ("unknown action", "[benchmark]\nactions = [\"fly\"]", "unknown action 'fly'"),
    ("undefined subject", "[benchmark]\ntest_subjects = [\"S9\"]", "subject 'S9'.*does not define"),
    ("bad level", "[benchmark]\nlevels = [1.5]", "'benchmark.levels' must be at most"),
    ("bad choice", "[body]\npreset = \"stick\"", "'body.preset' must be one of"),
    ("unknown model", "[train]\nmodels = [\"resnet\"]", "'train.models' must be one of"),
    ("bad 2D source", "[train]\nkeypoints2d = \"oracle\"", "'train.keypoints2d' must be exact, noise"),
    ("bad occluder kind", "[occluders]\nkinds = [\"cloud\"]", "'occluders.kinds' must be one of"),
    ("bad probability", "[occluders]\nmoving_probability = 1.5", "'occluders.moving_probability' must be at most 1"),
    ("missing mesh file", "[occluders]\nkinds = [\"mesh\"]\nmeshes = [\"nope.obj\"]", "nope.obj"),
    ("bad render engine", "[render]\nengine = \"povray\"", "'render.engine' must be one of"),
]


@pytest.mark.parametrize("label,extra,message", BAD, ids=[b[0] for b in BAD])
def test_bad_presets(label, extra, message, tiny_preset, tmp_path, capsys):
    if extra is None:
        path = tmp_path / "nope.toml"
    else:
        path = tmp_path / "bad.toml"
        path.write_text(f'include = ["{tiny_preset.name}"]\n' + extra + "\n")
        if label == "syntax":
            path.write_text(extra)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    code = main(["generate", "--config", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_bad_override_flag(tiny_preset, tmp_path, capsys):
    code = main(["generate", "--config", str(tiny_preset), "--set", "benchmark.frames", "--out",
                 str(tmp_path / "o"), "--quiet"])
    assert code == 2 and "expected KEY=VALUE" in capsys.readouterr().err


def test_include_cycle(tmp_path):
    (tmp_path / "a.toml").write_text('include = ["b.toml"]\n')
    (tmp_path / "b.toml").write_text('include = ["a.toml"]\n')
    with pytest.raises(ConfigError, match="include cycle"):
        load_config(tmp_path / "a.toml")
