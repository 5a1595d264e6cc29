"""Gradient signals: norms, the layer-to-layer vanishing ratio and gradient signal-to-noise.

All thresholds are ratios (to the run's own early baseline or between layers), never absolute norms, because
absolute gradient norms grow with the number of parameters and the loss scale.

Example:
    >>> import torch
    >>> global_norm([torch.ones(3), torch.ones(1)]).item()
    2.0
"""

from __future__ import annotations

from collections.abc import Sequence

#: Vanishing gradients: the best-fed early weight layer's gradient RMS (first quarter of the layers) below this
#: fraction of the last layer's.
#: AutoTrainer/DeepDiagnosis use 1e-3 on first/last gradient norms; we warn 10x earlier (1e-2) but only
#: while the loss is not improving, which is what separates a stalled deep net from a healthy one.
VANISHING_RATIO = 1e-2
#: Exploding gradients: global gradient norm this many times the run's own early median (scale-free).
#: Healthy MLP/CNN runs stay within ~5x of their early norm (benchmarks/faults.py healthy controls).
EXPLODING_FACTOR = 20.0


def layer_norms(grads: Sequence) -> list:
    """L2 norm of each tensor, computed on the tensors' device with one fused call where available.

    Example:
        >>> import torch
        >>> [round(n.item(), 3) for n in layer_norms([torch.full((4,), 0.5), torch.zeros(2)])]
        [1.0, 0.0]
    """
    import torch

    if not grads:
        return []
    try:
        return list(torch._foreach_norm(list(grads)))
    except (AttributeError, RuntimeError):  # older torch or mixed devices
        return [torch.linalg.vector_norm(g) for g in grads]


def global_norm(grads: Sequence):
    """L2 norm of all tensors together (a 0-d tensor).

    Example:
        >>> import torch
        >>> global_norm([torch.tensor([3.0]), torch.tensor([4.0])]).item()
        5.0
    """
    import torch

    norms = layer_norms(grads)
    if not norms:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))


def rms(norm: float, numel: int) -> float:
    """Root-mean-square of a tensor from its L2 norm and size.

    Example:
        >>> rms(2.0, 4)
        1.0
    """
    return float(norm) / max(int(numel), 1) ** 0.5


def vanishing_ratio(layer_rms: Sequence[float]) -> float:
    """The best-fed early layer's gradient RMS over the last layer's (layers in forward order); small means
    vanishing.

    "Early" is the first quarter of the weight layers (at least one): a transformer's first weight layer is an
    attention query projection, whose gradient is tiny at near-uniform attention by design while the value
    and MLP weights of the same block are well fed; in a stalled deep sigmoid stack every early layer starves.
    Returns ``nan`` with fewer than two layers or a zero last-layer gradient.

    Example:
        >>> vanishing_ratio([1e-5, 1e-3, 1e-2])
        0.001
        >>> vanishing_ratio([1e-5, 1e-3, 5e-3, 1e-2, 1e-2])  # 5 layers: the first two, the better one
        0.1
    """
    if len(layer_rms) < 2 or not layer_rms[-1] > 0:
        return float("nan")
    early = layer_rms[: max(1, -(-len(layer_rms) // 4))]
    return max(float(v) for v in early) / float(layer_rms[-1])


def growth(value: float, baseline: float) -> float:
    """``value`` relative to the run's own early ``baseline`` (``nan`` when the baseline is not positive).

    Example:
        >>> growth(30.0, 1.5)
        20.0
    """
    return float(value) / float(baseline) if baseline > 0 else float("nan")


def gsnr(samples):
    """Gradient signal-to-noise ratio per parameter, mean(g)^2 / var(g), over independent gradient samples.

    ``samples`` is an array or tensor shaped (n_samples, n_params), e.g. per-example or per-batch gradients
    at the same weights (Liu et al., "Understanding why neural networks generalize well through GSNR of
    parameters", ICLR 2020). Returns the per-parameter GSNR as a numpy array.

    Example:
        >>> import numpy as np
        >>> gsnr(np.array([[1.0, 1.0], [3.0, -1.0]])).round(2).tolist()
        [4.0, 0.0]
    """
    import numpy as np

    a = np.asarray(samples.detach().cpu() if hasattr(samples, "detach") else samples, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError("gsnr needs at least two gradient samples shaped (n_samples, n_params)")
    mean, var = a.mean(axis=0), a.var(axis=0)
    return np.where(var > 0, mean**2 / np.where(var > 0, var, 1.0), np.where(mean != 0, np.inf, 0.0))


def mean_abs_over_std(grad) -> float:
    """Single-batch proxy mean(|g|)/std(g) over one gradient tensor's entries.

    This is NOT the gradient signal-to-noise ratio (that needs several gradient samples; see :func:`gsnr`);
    it only says how uniform the gradient magnitudes are across entries, so the monitor shows it as info.

    Example:
        >>> import torch
        >>> round(mean_abs_over_std(torch.tensor([1.0, -1.0, 1.0, -1.0])), 3)
        0.866
    """
    g = grad.detach().float().flatten()
    std = g.std()
    return float(g.abs().mean() / std) if float(std) > 0 else float("nan")
