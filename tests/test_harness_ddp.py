"""torchrun-style data parallel training: 2 gloo processes on CPU end with identical weights."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from occpose.harness import RunSettings, train_model
from occpose.harness.toy import toy_sequences


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str, model: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    seqs = [s for s in toy_sequences(subjects=("S1",), actions=("walk",), levels=(0.3,), frames=40,
                                     test_subjects=()) if s.split == "train"]
    settings = RunSettings(model=model, epochs=1, batch_size=16, channels=8, filter_widths=[3, 3],
                           keypoints2d="noise")
    result = train_model(seqs, None, settings, os.path.join(out, "run"), device="cpu",
                         progress=False)
    torch.save(result.state_dict, os.path.join(out, f"rank{rank}.pt"))


@pytest.mark.parametrize("model", ["tcn-occseq"])
def test_two_process_gloo_ddp_gives_identical_weights(tmp_path, model):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), model), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # rank 0 alone wrote the run directory; its checkpoint holds the same weights
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count("\n") == 1
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    for k in a:
        assert torch.equal(ckpt["model"][k], a[k]), k
