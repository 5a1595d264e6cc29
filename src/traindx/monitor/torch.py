"""The PyTorch side of the monitor: hooks on sampled steps only, on-device reductions, one host transfer.

Forward hooks are attached right before a sampled step's forward pass and removed as soon as its values are
read (Composer's habit), so unsampled steps run the bare model. Gradients are read after ``backward`` (at
``Monitor.step``, which runs after ``optimizer.step()``; a GradScaler has unscaled them by then).
Parameters are copied at the end of the step before a sampled one (by the constructor for step 0), so that a
sample reads the update of its own optimizer step with everything else, in one transfer; unsampled steps do
no device work at all.

Example:
    >>> import torch
    >>> probe = TorchProbe(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()))
    >>> probe.arm(); probe.armed
    True
    >>> probe.disarm(); probe.armed
    False
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field

import torch
from torch import nn

from traindx.signals import activations, gradients

_RELU = (nn.ReLU, nn.ReLU6)
_SATURATING = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
_WEIGHTED = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
#: Elements of one gradient kept on a sample to tell a reset gradient from a kept one (missing zero_grad).
GRAD_PROBE = 4096


def _mode_dependent(m: nn.Module) -> bool:
    """Whether ``m`` computes differently in train and eval mode: Dropout and BatchNorm, and the recurrent
    layers' own dropout between stacked layers (``nn.LSTM(..., num_layers=2, dropout=0.3)``)."""
    if isinstance(m, _MODE_DEPENDENT):
        return getattr(m, "p", 1.0) != 0
    return isinstance(m, nn.RNNBase) and m.num_layers > 1 and m.dropout > 0


def _is_norm(m: nn.Module) -> bool:
    # custom LayerNorm/RMSNorm classes (nanoGPT, HF models) are not torch's, so the name decides too
    if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)):
        return True
    return "norm" in type(m).__name__.lower() and next(m.parameters(recurse=False), None) is not None


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, torch.Tensor) and o.dim() >= 2:
                return o
    return None


def to_floats(values: list) -> list:
    """Tensors (and numbers) to floats with a single device-to-host transfer where possible: a 0-d tensor
    becomes a float, a 1-d one a list of floats.

    Example:
        >>> to_floats([torch.tensor(1.5), 2, torch.tensor([3.0, 4.0])])
        [1.5, 2.0, [3.0, 4.0]]
    """
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return [float(v) for v in values]
    if len(tensors) == len(values) and all(t.dim() == 0 for t in tensors):
        # the pending losses of unsampled steps: one stack instead of three calls per tensor (a 50-loss flush
        # 0.22 -> 0.05 ms on CPU, measured)
        try:
            return torch.stack(tensors).float().tolist()
        except RuntimeError:  # several devices or dtypes: the general path
            pass
    try:
        flat = torch.cat([t.detach().float().reshape(-1) for t in tensors]).tolist()
    except RuntimeError:  # tensors on several devices: one transfer each
        flat = [x for t in tensors for x in t.detach().float().reshape(-1).tolist()]
    out, i = [], 0
    for v in values:
        if isinstance(v, torch.Tensor):
            n = v.numel()
            out.append(flat[i] if v.dim() == 0 else flat[i : i + n])
            i += n
        else:
            out.append(float(v))
    return out


def std_parts(tensors: list) -> torch.Tensor:
    """``[sum(t^2) ..., sum(t) ...]`` of the tensors as one vector on their device (no host read): what
    :func:`scaled_stds_from` needs. Two fused calls instead of one ``std()`` per tensor or a chain of
    on-device arithmetic, which a short run's constructor would pay (an MLP's three layers: 0.33 -> about
    0.1 ms on CPU, measured).

    Example:
        >>> std_parts([torch.arange(3.0)]).tolist()
        [5.0, 3.0]
    """
    try:
        sq = torch._foreach_norm(tensors)
        return torch.cat([torch.stack(sq) ** 2, torch.stack([t.sum() for t in tensors])])
    except (AttributeError, RuntimeError):  # older torch or tensors on several devices
        return torch.cat(
            [
                torch.stack([(t * t).sum().cpu() for t in tensors]),
                torch.stack([t.sum().cpu() for t in tensors]),
            ]
        )


def scaled_stds_from(parts: list[float], counts: list[int], factors: list[float]) -> list[float]:
    """``std(t) * f`` per tensor from :func:`std_parts`' values (read back), with torch's default correction
    (nan for one element). float32 sums: relative error 1.5e-6 for a centred tensor, 2e-4 with a mean of 20
    standard deviations, 3e-2 at 200 (measured); initialisations are centred, so an ordinary layer is far
    inside that.

    Example:
        >>> ws = [torch.arange(6.0).reshape(2, 3), torch.full((4,), 2.0)]
        >>> parts = std_parts(ws).tolist()
        >>> [round(v, 4) for v in scaled_stds_from(parts, [6, 4], [1.0, 3.0])]
        [1.8708, 0.0]
    """
    k = len(counts)
    out = []
    for sq, total, n, f in zip(parts[:k], parts[k:], counts, factors, strict=True):
        if n <= 1:
            out.append(float("nan"))
            continue
        var = max((sq - total * total / n) / (n - 1), 0.0)
        out.append(math.sqrt(var) * f)
    return out


def stack(tensors: list) -> torch.Tensor:
    """0-d tensors as one float vector on their device (no host read), or on the host for a model spread
    over several devices."""
    try:
        return torch.stack([t.detach().float() for t in tensors])
    except RuntimeError:
        return torch.stack([t.detach().float().cpu() for t in tensors])


@dataclass
class Capture:
    """What the hooks saw during one sampled forward pass (on-device scalars until read)."""

    dead: list = field(default_factory=list)  # (dead-unit fraction tensor, n units)
    saturated: list = field(default_factory=list)  # (saturated fraction tensor, n outputs)
    input_rms: list = field(default_factory=list)
    output: list = field(default_factory=list)  # (is-a-probability-simplex tensor, width, confidence)
    output_slack: list = field(default_factory=list)  # sum over rows of 1 - max softmax probability
    output_grad: list = field(default_factory=list)  # rows * sum of per-row output-gradient norms (backward)
    output_shift: list = field(default_factory=list)  # rows * sum over rows of |sum of the row's gradient|


class _NoHandle:
    def remove(self) -> None:
        pass


class TorchProbe:
    """Hooks, gradient reads and parameter snapshots for one ``nn.Module``."""

    def __init__(self, model: nn.Module, optimizer=None) -> None:
        self.model = model
        self.relu: list[nn.Module] = []
        self.saturating: list[tuple[nn.Module, str]] = []
        # weight layers in registration order, which is forward order for Sequential-style models
        self.layers: list[tuple[str, torch.Tensor]] = []
        self.mode_dependent: list[nn.Module] = []
        self.normalized = False
        for name, m in model.named_modules():  # one walk: the constructor is part of a short run's cost
            if isinstance(m, _RELU):
                self.relu.append(m)
            self.saturating.extend((m, kind) for t, kind in _SATURATING.items() if isinstance(m, t))
            if isinstance(m, _WEIGHTED) and isinstance(getattr(m, "weight", None), torch.Tensor):
                self.layers.append((name, m.weight))
            if _mode_dependent(m):
                self.mode_dependent.append(m)
            self.normalized = self.normalized or _is_norm(m)
        self.needs: frozenset[str] = frozenset(
            {"relu", "saturation", "input", "output"}
        )  # narrowed by the monitor to what its indicators read
        self.capture = Capture()
        self.hook_s = 0.0
        self.grad_norms: dict[int, torch.Tensor] = {}  # of the last grad_stats call
        self._handles: list = []
        self.optimizer_steps = 0
        self.held = (
            {id(p) for g in optimizer.param_groups for p in g["params"]} if optimizer is not None else set()
        )
        self._opt_handle = None
        if optimizer is not None and hasattr(optimizer, "register_step_post_hook"):
            self._opt_handle = optimizer.register_step_post_hook(self._count_step)

    # -- hooks ---------------------------------------------------------------------------------------------
    def _count_step(self, *_args) -> None:
        self.optimizer_steps += 1

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def arm(self) -> None:
        """Attach forward hooks for the next forward pass."""
        if self._handles:
            return
        self.capture = Capture()
        need = self.needs
        if "input" in need:
            self._handles.append(self.model.register_forward_pre_hook(self._on_input))
        if "output" in need:
            self._handles.append(self.model.register_forward_hook(self._on_output))
        if "relu" in need:
            for m in self.relu:
                self._handles.append(m.register_forward_hook(self._on_relu))
        if "saturation" in need:
            for m, kind in self.saturating:
                self._handles.append(m.register_forward_hook(self._saturation_hook(kind)))
        if not self._handles:  # nothing to hook: a marker so that "armed" still says the step is sampled
            self._handles.append(_NoHandle())

    def take_hook_time(self) -> float:
        """Seconds spent in hook bodies since the last call (they run inside the user's forward pass)."""
        t, self.hook_s = self.hook_s, 0.0
        return t

    def disarm(self) -> None:
        """Remove every forward hook (idempotent)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def close(self) -> None:
        self.disarm()
        if self._opt_handle is not None:
            self._opt_handle.remove()
            self._opt_handle = None

    # The hooks never raise into the user's forward pass: a failed reduction is simply not recorded. Their
    # time is measured, since it is spent inside the user's step and belongs to the monitor's overhead.
    def _on_input(self, _module, args) -> None:
        t0 = time.perf_counter()
        try:
            x = args[0] if args else None
            if (
                isinstance(x, torch.Tensor)
                and x.is_floating_point()
                and x.numel()
                and not self.capture.input_rms
            ):
                self.capture.input_rms.append(activations.input_rms(x))
        except Exception:  # noqa: BLE001
            pass
        self.hook_s += time.perf_counter() - t0

    def _on_output(self, _module, _inputs, out) -> None:
        t0 = time.perf_counter()
        try:
            y = _first_tensor(out)
            if (
                y is not None
                and y.is_floating_point()
                and y.dim() >= 2
                and y.shape[-1] >= 2
                and not self.capture.output
            ):
                if y.requires_grad:
                    y.register_hook(self._on_output_grad)
                y = y.detach()
                simplex = (y.min() >= 0) & ((y.sum(dim=-1) - 1).abs().max() < 1e-3)
                # how sure the output reads as logits: the mean largest softmax probability of its rows
                top = torch.softmax(y.float(), dim=-1).amax(dim=-1)
                self.capture.output.append((simplex.float(), y.shape[-1], top.mean()))
                self.capture.output_slack.append((1 - top).sum())
        except Exception:  # noqa: BLE001
            pass
        self.hook_s += time.perf_counter() - t0

    def _on_output_grad(self, grad) -> None:
        # rows * sum of the per-row gradient norms of the model's output: for cross-entropy on these logits
        # (mean over rows) each row's gradient is (softmax - onehot) / rows, whose norm is >= 1 - max softmax
        t0 = time.perf_counter()
        try:
            if not self.capture.output_grad:
                rows = grad.detach().float().reshape(-1, grad.shape[-1])
                self.capture.output_grad.append(rows.shape[0] * torch.linalg.vector_norm(rows, dim=-1).sum())
                # a loss that is unchanged by adding a constant to an output row (one that applies softmax
                # itself) has gradient rows summing to zero; NLL on log-probabilities does not (-1 / p_y)
                self.capture.output_shift.append(rows.shape[0] * rows.sum(dim=-1).abs().sum())
        except Exception:  # noqa: BLE001
            pass
        self.hook_s += time.perf_counter() - t0

    def _on_relu(self, _module, _inputs, out) -> None:
        t0 = time.perf_counter()
        try:
            if isinstance(out, torch.Tensor) and out.dim() >= 2 and out.shape[0] > 1:
                self.capture.dead.append((activations.dead_fraction(out), out.shape[1]))
        except Exception:  # noqa: BLE001
            pass
        self.hook_s += time.perf_counter() - t0

    def _saturation_hook(self, kind: str):
        def hook(_module, _inputs, out) -> None:
            t0 = time.perf_counter()
            try:
                if isinstance(out, torch.Tensor) and out.numel():
                    self.capture.saturated.append((activations.saturated_fraction(out, kind), out.numel()))
            except Exception:  # noqa: BLE001
                pass
            self.hook_s += time.perf_counter() - t0

        return hook

    # -- reads ---------------------------------------------------------------------------------------------
    def trainable(self) -> list[tuple[str, torch.Tensor]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def grad_stats(self) -> tuple:
        """This step's gradients, reduced on the device: (global norm or None, number of gradients, weight
        layer names, their sizes, their gradient norms and weight norms as 1-d tensors, or None)."""
        grads = [(id(p), p.grad) for _, p in self.trainable() if p.grad is not None]
        self.grad_norms = {}
        if not grads:
            return None, 0, [], [], None, None
        each = gradients.layer_norms([g for _, g in grads])  # one pass over all gradients
        # kept for the update ratio's gradient check on the same sample (parameter id -> 0-d norm)
        self.grad_norms = {pid: n for (pid, _), n in zip(grads, each, strict=True)}
        gnorm = torch.linalg.vector_norm(stack(each))
        layers = [(n, w) for n, w in self.layers if w.requires_grad and id(w) in self.grad_norms]
        if not layers:
            return gnorm, len(grads), [], [], None, None
        lg = stack([self.grad_norms[id(w)] for _, w in layers])
        lw = stack(gradients.layer_norms([w.detach() for _, w in layers]))
        return gnorm, len(grads), [n for n, _ in layers], [w.numel() for _, w in layers], lg, lw

    def snapshot(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """Copies of the trainable parameters (for ||dW||/||W|| after the next optimizer step)."""
        return [(n, p, p.detach().clone()) for n, p in self.trainable()]

    def grad_marker(self):
        """(weak reference to the last weight layer's gradient tensor, a copy of its first elements), or None.

        Only a parameter the optimizer holds: ``optimizer.zero_grad()`` resets those alone, so a layer left out
        of the optimizer keeps its gradient by construction (that is ``no_update``'s finding, not this one).
        """
        w = next(
            (
                w
                for _, w in reversed(self.layers)
                if w.requires_grad and w.grad is not None and id(w) in self.held
            ),
            None,
        )
        if w is None:
            return None
        g = w.grad
        return w, weakref.ref(g), g.detach().reshape(-1)[:GRAD_PROBE].clone()

    @staticmethod
    def grad_kept(marker):
        """Whether the marked gradient is the same tensor now, and ||g_now - g_then|| / ||g_then|| (tensor)."""
        w, ref, then = marker
        g = w.grad
        if g is None or ref() is not g:
            return False, None
        now = g.detach().reshape(-1)[: then.numel()]
        return True, torch.linalg.vector_norm(now - then) / torch.linalg.vector_norm(then).clamp_min(1e-30)

    def modes(self) -> bool:
        """Whether the root module is in training mode."""
        return bool(self.model.training)

    @staticmethod
    def update_ratios(copies: list, params: list) -> torch.Tensor:
        """||W_now - W_copy|| / ||W_copy|| per parameter, a 1-d tensor on the device. The difference is
        taken in place in the copies (no second model-sized buffer); :meth:`restore` undoes it when nothing
        moved and the copy is kept.

        Example:
            >>> c = [torch.ones(4)]
            >>> round(TorchProbe.update_ratios(c, [torch.full((4,), 1.01)]).item(), 4)
            0.01
        """
        before = stack(torch._foreach_norm(copies))
        torch._foreach_sub_(copies, params)
        return stack(torch._foreach_norm(copies)) / before.clamp_min(torch.finfo(torch.float32).tiny)

    @staticmethod
    def restore(copies: list, params: list) -> None:
        """Undo :meth:`update_ratios`' subtraction where the parameters did not move (exact: it adds zeros back)."""
        torch._foreach_add_(copies, params)
