"""The monitor under real ``torch.distributed``: 2 processes on gloo, a DDP model, one bad shard."""

from __future__ import annotations

import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from traindx.errors import InputError
from traindx.monitor.distributed import DistributedMonitor, is_distributed

STEPS, SYNC, EVERY = 60, 10, 4


def _worker(rank: int, world: int, folder: str) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(
            nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        mon = DistributedMonitor(model, opt, every=EVERY, stop_on=("input_scale",), sync_every=SYNC)
        calls = {"all_reduce": 0}
        all_reduce = dist.all_reduce

        def counted(*args, **kwargs):
            calls["all_reduce"] += 1
            return all_reduce(*args, **kwargs)

        dist.all_reduce = counted  # DDP's own gradient all-reduce runs in C++ and is not counted
        reads = {"n": 0}  # tensor-to-host reads: on a GPU each would be a device sync
        for method in ("item", "tolist", "__float__"):
            original = getattr(torch.Tensor, method)

            def read(self, *args, _original=original, **kwargs):
                reads["n"] += 1
                return _original(self, *args, **kwargs)

            setattr(torch.Tensor, method, read)
        reading_steps = []
        g = torch.Generator().manual_seed(rank)
        stopped_at = None
        for step in range(STEPS):
            x = torch.randn(16, 8, generator=g)
            if rank == 1 and step >= 25:
                x = x * 100  # only rank 1's shard turns unnormalized
            loss = nn.functional.cross_entropy(model(x), torch.randint(0, 2, (16,), generator=g))
            opt.zero_grad()
            loss.backward()
            opt.step()
            before = reads["n"]
            mon.step(loss)
            if reads["n"] > before:
                reading_steps.append(step)
            if mon.should_stop:
                stopped_at = step
                break
        local = [f.code for f in mon.monitor.findings]
        reduces_in_loop = calls["all_reduce"]
        hist = mon.history
        sampled = sorted(set(hist.loc[hist["name"] == "gradient_norm", "step"]))
        mon.epoch_end(train_loss=loss.item())
        mon.close()
        saved = mon.save(f"{folder}/signals.parquet")
        result = {
            "stopped_at": stopped_at,
            "local": local,
            "merged": [(f.code, f.details.get("ranks")) for f in mon.findings],
            "saved": saved is not None,
            "all_reduces": reduces_in_loop,
            "reading_steps": reading_steps,
            "sampled": [int(k) for k in sampled],
        }
        with open(f"{folder}/rank{rank}.json", "w") as fh:
            json.dump(result, fh)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="torch built without gloo"
)
def test_ranks_agree_on_stopping_and_rank0_reports_the_merged_findings(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    # only rank 1's input went bad, so only its own monitor saw it ...
    assert "input_scale" in r1["local"] and "input_scale" not in r0["local"]
    # ... yet both ranks stopped, at the same step: the first sync point after rank 1's finding
    assert r0["stopped_at"] == r1["stopped_at"] is not None
    assert (r0["stopped_at"] + 1) % SYNC == 0 and 25 <= r0["stopped_at"] < STEPS - 1
    # the monitor talked to the other rank only at the sync points, not on every (or every sampled) step
    assert r0["all_reduces"] == r1["all_reduces"] == (r0["stopped_at"] + 1) // SYNC
    # tensors are read to the host only where the monitor samples (the sampled step, and the next one for the
    # update ratio) and at sync points (whose flag is a CPU tensor); on CUDA any other read would stall the device
    sync_steps = {k for k in range(STEPS) if (k + 1) % SYNC == 0}
    for r in (r0, r1):
        allowed = {k + d for k in r["sampled"] for d in (0, 1)} | sync_steps
        assert r["sampled"] and set(r["reading_steps"]) <= allowed
        assert len(r["reading_steps"]) <= 2 * len(r["sampled"]) + len(sync_steps) < r0["stopped_at"]
    # the merged findings name the rank that saw each one, the same on every rank; rank 0 alone writes them
    assert r0["merged"] == r1["merged"] and ["input_scale", [1]] in r0["merged"]
    assert r0["saved"] and not r1["saved"]
    saved = json.loads((tmp_path / "signals.findings.json").read_text())
    assert [d["code"] for d in saved] == [c for c, _ in r0["merged"]]


def test_without_a_process_group_the_error_says_what_to_do():
    assert not is_distributed()
    with pytest.raises(InputError, match="init_process_group"):
        DistributedMonitor(nn.Linear(2, 1))
