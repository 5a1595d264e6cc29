"""The monitor's device code path reads nothing back to the host on unsampled steps, and once on a sample.

On a GPU a host read (``.item()``, ``float(t)``, ``.tolist()``, ``.cpu()``) waits for every queued kernel, so
one per step serialises training. CI has no GPU, so the same code path is checked on CPU by recording every
tensor call the monitor makes (a ``TorchFunctionMode``) and every operator it runs (a ``TorchDispatchMode``:
``.item()`` and ``float()`` end in ``aten._local_scalar_dense``) during ``Monitor.step`` on unsampled steps,
for an MLP, a BatchNorm CNN, an LSTM and a small transformer, plain and under autocast with a ``GradScaler``
(the AMP path). On a CUDA machine the last test also runs the steps under
``torch.cuda.set_sync_debug_mode("error")``, which raises on any synchronising call.
"""

from __future__ import annotations

import pytest
import torch
from tiny_models import MODELS, batch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import traindx as tdx

#: Tensor calls that copy device values to the host (each synchronises a CUDA stream).
HOST_READS = {
    torch.Tensor.item,
    torch.Tensor.tolist,
    torch.Tensor.__float__,
    torch.Tensor.__int__,
    torch.Tensor.__bool__,
    torch.Tensor.__index__,
    torch.Tensor.cpu,
    torch.Tensor.numpy,
    torch.Tensor.__format__,
    torch.Tensor.__repr__,
}
SCALAR_OPS = ("_local_scalar_dense", "is_nonzero", "equal")


class HostReadSpy(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.calls += 1
        if func in HOST_READS:
            self.reads.append(func.__name__)
        elif func is torch.Tensor.to and any(
            str(a) == "cpu" for a in [*args[1:], kwargs.get("device")] if a is not None
        ):
            self.reads.append("to(cpu)")
        return func(*args, **kwargs)


class ScalarOpSpy(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        if any(op in name for op in SCALAR_OPS):
            self.ops.append(name)
        return func(*args, **(kwargs or {}))


def _bf16_lstm_runs() -> bool:
    """Whether this CPU's oneDNN build runs an LSTM under bfloat16 autocast (some AMD EPYC machines cannot
    create the primitive and raise in the model's own forward, with or without a monitor)."""
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.randn(2, 3, 4))
    except RuntimeError:
        return False
    return True


def _run(name: str, settings: dict, amp: bool, steps: int = 40):
    """Train ``steps`` steps; return (host reads and scalar ops seen in unsampled ``step()`` calls, the number
    of unsampled and of sampled steps, whether any unsampled forward pass ran with a monitor hook)."""
    torch.manual_seed(0)
    build, kind = MODELS[name]
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu") if amp else None
    mon = tdx.Monitor(model, opt, grad_scaler=scaler, **settings)
    g = torch.Generator().manual_seed(1)
    reads, ops, unsampled, sampled, hooked = [], [], 0, 0, False
    for _ in range(steps):
        x, y = batch(kind, g)
        armed = mon._probe.armed
        hooked = hooked or (
            not armed and any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
        )
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
            loss = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y.reshape(-1))
        opt.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        if armed:
            sampled += 1
            with HostReadSpy() as spy:
                mon.step(loss)
            # a sample is one batched transfer: its values, the update ratios and the pending losses
            assert spy.reads == ["tolist"], f"a sampled step read {spy.reads}"
            continue
        unsampled += 1
        with HostReadSpy() as spy, ScalarOpSpy() as scalar:
            mon.step(loss)
        assert spy.calls > 0  # the spy sees the monitor's tensor calls (at least the loss's detach)
        reads += spy.reads
        ops += scalar.ops
    assert not [f for f in mon.findings if f.code == "indicator_disabled"], mon.findings
    mon.close()
    return reads, ops, unsampled, sampled, hooked


@pytest.mark.parametrize("name", ["mlp", "cnn_batchnorm", "lstm", "transformer"])
@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
@pytest.mark.parametrize("settings", [{}, {"every": 4}], ids=["defaults", "every_4"])
def test_unsampled_steps_read_nothing_back_from_the_device(name, amp, settings):
    if amp and name == "lstm" and not _bf16_lstm_runs():
        pytest.skip("this CPU's oneDNN cannot run an LSTM under bfloat16 autocast (the model itself fails)")
    # at defaults a sample comes at least every MAX_PERIOD (200) steps, whatever the timings
    reads, ops, unsampled, sampled, hooked = _run(name, settings, amp, steps=250 if not settings else 40)
    assert unsampled >= 10 and sampled >= 2  # both kinds of step happened
    assert reads == [] and ops == [], f"host reads on unsampled steps: {reads} {ops}"
    assert not hooked, "a monitor hook was attached during an unsampled forward pass"


def test_the_spies_catch_a_host_read():
    t = torch.tensor([1.0, 2.0])
    with HostReadSpy() as spy, ScalarOpSpy() as scalar:
        float(t.sum()), t.tolist(), t.cpu()
    assert spy.reads == ["__float__", "tolist", "cpu"] and scalar.ops


def test_losses_of_a_long_fixed_period_are_folded_on_the_device():
    model = nn.Linear(3, 1)
    mon = tdx.Monitor(model, every=10_000)
    for i in range(2500):
        with HostReadSpy() as spy:
            mon.step(torch.tensor(float(i)))
        assert i == 0 or spy.reads == []
    assert len(mon._pending) < 1000
    assert mon.history.query("name == 'loss'")["value"].tolist() == [float(i) for i in range(2500)]
    mon.close()


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device (the CPU tests above cover CI)"
)
def test_cuda_unsampled_steps_do_not_synchronise():
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = tdx.Monitor(model, opt, every=5)
    x, y = torch.randn(16, 10, device="cuda"), torch.randint(0, 4, (16,), device="cuda")
    for _ in range(20):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if mon._probe.armed:
            mon.step(loss)
            continue
        torch.cuda.set_sync_debug_mode("error")
        try:
            mon.step(loss)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    mon.close()
