"""The live training monitor: sampled signals, persistent-evidence rules, deduplicated findings.

Example:
    >>> import torch, traindx as tdx
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> with tdx.Monitor(model, opt) as mon:
    ...     for _ in range(20):
    ...         opt.zero_grad()
    ...         loss = torch.nn.functional.cross_entropy(model(torch.randn(32, 8)), torch.randint(0, 2, (32,)))
    ...         loss.backward()
    ...         opt.step()
    ...         mon.step(loss)
    >>> [f.code for f in mon.findings]
    []
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from traindx.errors import InputError
from traindx.monitor.advice import ADVICE
from traindx.monitor.findings import CODES, Finding
from traindx.monitor.schedule import Schedule
from traindx.monitor.status import IndicatorStatus
from traindx.signals import activations, gradients, weights
from traindx.signals import loss as lsig

#: Indicators in the order the live table shows them.
INDICATORS: tuple[str, ...] = (
    "nan_inf",
    "loss_spike",
    "learning_progress",
    "plateau",
    "oscillation",
    "exploding_gradients",
    "vanishing_gradients",
    "gradient_uniformity",
    "dead_relu",
    "saturation",
    "input_scale",
    "weight_init",
    "update_ratio",
    "no_update",
    "overfitting",
    "underfitting",
)

#: Losses used for the run's baseline (the median of its first steps) and for "recent" loss.
BASELINE_STEPS, RECENT_STEPS = 10, 20
#: Gradient-symptom rules need this many losses before "not improving" can be judged.
MIN_STEPS_FOR_PROGRESS = 30
#: A finding needs its condition in K of the last N evaluations (persistence keeps one noisy sample from
#: alarming; AutoTrainer likewise waits for symptoms to persist before acting).
PERSIST_K, PERSIST_N = 2, 3


def _as_loss(loss: Any):
    import torch

    if isinstance(loss, torch.Tensor):
        return loss.detach().float().mean() if loss.numel() != 1 else loss.detach().reshape(())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    if hasattr(loss, "__float__"):
        return float(loss)
    raise InputError(
        f"Monitor.step got a loss of type {type(loss).__name__}; pass the loss tensor or a float"
    )


class Monitor:
    """Watch a PyTorch training run and diagnose what goes wrong while it runs.

    Call :meth:`step` after every ``optimizer.step()`` with the loss, and :meth:`epoch_end` with whatever
    epoch metrics you have. Signals are sampled under an overhead ``budget`` (fraction of step time,
    measured at run time) unless ``every`` fixes the period. Codes in ``stop_on`` set :attr:`should_stop`.
    ``writers`` (:mod:`traindx.monitor.writers`) receive the recorded values and findings at each epoch end,
    at close, and every 30 s on sampled steps.

    Example:
        >>> import torch
        >>> mon = Monitor(torch.nn.Linear(3, 1), every=1)
        >>> mon.step(0.5); mon.step(0.4)
        >>> sorted(set(mon.history["name"]))
        ['loss']
        >>> mon.close()
    """

    def __init__(
        self,
        model,
        optimizer=None,
        every: int | None = None,
        budget: float = 0.05,
        stop_on: Iterable[str] = (),
        grad_scaler=None,
        writers: Iterable[Any] = (),
    ) -> None:
        import torch

        from traindx.monitor.torch import TorchProbe
        from traindx.monitor.writers import WriterSet

        if not isinstance(model, torch.nn.Module):
            raise InputError(f"Monitor needs a torch.nn.Module, got {type(model).__name__}; pass your model")
        if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
            raise InputError(f"every must be a positive int (sample every N steps) or None, got {every!r}")
        if not (isinstance(budget, (int, float)) and 0 < budget <= 1):
            raise InputError(f"budget is a fraction of step time in (0, 1], e.g. 0.05; got {budget!r}")
        if optimizer is not None and not hasattr(optimizer, "param_groups"):
            raise InputError("optimizer must be a torch.optim.Optimizer (with param_groups) or None")
        stop_on = (stop_on,) if isinstance(stop_on, str) else tuple(stop_on)
        unknown = [c for c in stop_on if c not in CODES]
        if unknown:
            raise InputError(f"unknown stop_on code(s) {unknown}; choose from {', '.join(CODES)}")

        self.model, self.optimizer, self.grad_scaler = model, optimizer, grad_scaler
        self.stop_on = frozenset(stop_on)
        self.should_stop = False
        self.writers = WriterSet(
            writers
        )  # sinks (TensorBoard, MLflow, W&B): epoch ends, close, sampled steps
        self._probe = TorchProbe(model, optimizer)
        self._schedule = Schedule(every, budget)
        self._step = 0
        self._epoch = 0
        self._pending: list = []
        self._losses: list[float] = []
        self._ema: float | None = None
        self._base: float | None = None
        self._rows: list[tuple[int, int, str, str, float]] = []
        self._findings: dict[str, Finding] = {}
        self._disabled: set[str] = set()
        self._evidence: dict[str, deque] = defaultdict(lambda: deque(maxlen=PERSIST_N))
        self._grad_base: list[float] = []
        self._snap = None
        self._snap_step = 0
        self._snap_opt = 0
        self._unchanged_checks = 0
        self._reads = 0
        self._epochs: list[dict[str, float]] = []
        self._closed = False
        self._last_end: float | None = None
        self._status = {n: IndicatorStatus(n, "pending", None, "waiting for samples") for n in INDICATORS}
        if not self._probe.relu:
            self._set("dead_relu", "off", None, "no nn.ReLU modules")
        if not self._probe.saturating:
            self._set("saturation", "off", None, "no nn.Tanh/nn.Sigmoid modules")
        if not self._probe.layers:
            for name in ("vanishing_gradients", "weight_init", "gradient_uniformity"):
                self._set(name, "off", None, "no Linear/Conv layers")
        self._missing_from_optimizer: list[str] = []
        if optimizer is not None:
            held = {id(p) for g in optimizer.param_groups for p in g["params"]}
            self._missing_from_optimizer = [n for n, p in self._probe.trainable() if id(p) not in held]
        self._init_scales = self._measure_init()
        self._probe.arm()  # the very first forward pass is sampled

    # -- public API ----------------------------------------------------------------------------------------
    def step(self, loss: Any) -> None:
        """Record one training step; call it after ``optimizer.step()`` with the loss (tensor or float).

        Unsampled steps only store the detached loss (no device sync); sampled steps read the hooks and
        gradients.
        """
        if self._closed:
            return
        t0 = time.perf_counter()
        train_s = 0.0 if self._last_end is None else t0 - self._last_end
        k = self._step
        self._pending.append(_as_loss(loss))
        sampled = self._probe.armed
        try:
            if self._snap is not None:
                self._maybe_compare(k, sampled)
            if sampled:
                self._read(k)
                self.writers.maybe_flush(self)
            elif len(self._pending) >= 1000:
                self._flush_losses()
        except Exception as exc:  # noqa: BLE001 - the monitor must never break the training loop
            self._disable("collection", exc, k)
        finally:
            if sampled:
                self._probe.disarm()
        self._step = k + 1
        elapsed = time.perf_counter() - t0
        self._schedule.record(k, sampled, elapsed, train_s)
        if self._schedule.due(k + 1):
            self._probe.arm()
        self._last_end = time.perf_counter()

    def epoch_end(
        self,
        train_loss: float | None = None,
        val_loss: float | None = None,
        train_acc: float | None = None,
        val_acc: float | None = None,
    ) -> None:
        """Record end-of-epoch metrics (any subset) and run the epoch-level rules (over/underfitting)."""
        if self._closed:
            return
        t0 = time.perf_counter()
        metrics = {
            k: float(v)
            for k, v in {
                "train_loss": train_loss,
                "val_loss": val_loss,
                "train_acc": train_acc,
                "val_acc": val_acc,
            }.items()
            if v is not None
        }
        self._flush_losses()
        self._epoch += 1
        self._epochs.append(metrics)
        for name, value in metrics.items():
            self._rows.append((self._step, self._epoch, name, "", value))
        if lsig.nonfinite(metrics.values()):
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            self._guard("nan_inf", self._fire, "nan_inf", "critical", f"epoch metric(s) {bad} are not finite")
        self._guard("overfitting", self._rule_overfitting)
        self._guard("underfitting", self._rule_underfitting)
        self.writers.flush(self)
        self._schedule.charge(time.perf_counter() - t0)
        self._last_end = time.perf_counter()

    @property
    def findings(self) -> list[Finding]:
        """Deduplicated findings, in the order first seen."""
        return sorted(self._findings.values(), key=lambda f: (f.step, f.code))

    def status(self) -> list[IndicatorStatus]:
        """One :class:`IndicatorStatus` per indicator, for the live table."""
        return [self._status[n] for n in INDICATORS]

    @property
    def history(self):
        """Long-format pandas DataFrame: step, epoch, name, layer ("" for whole-model values), value."""
        import pandas as pd

        self._flush_losses()
        return pd.DataFrame(self._rows, columns=["step", "epoch", "name", "layer", "value"])

    @property
    def overhead(self) -> float:
        """Measured fraction of wall time spent in the monitor.

        It counts the monitor's own calls and, under the adaptive schedule, the extra time of the training
        steps that sampling slows down (hooked forward passes, the step after a parameter snapshot), found
        by comparison with unsampled steps. With ``every=1`` no step is unsampled, so the hooks' share is
        missing from the figure: ``benchmarks/overhead.py`` measures that setting directly.
        """
        return self._schedule.overhead

    def save(self, path) -> Path:
        """Write the history (``.parquet`` or ``.csv``) and ``<stem>.findings.json`` beside it.

        Returns the findings path.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".pq", ".csv"):
            raise InputError(f"cannot save history as {path.name!r}; use a .parquet or .csv file name")
        path.parent.mkdir(parents=True, exist_ok=True)
        hist = self.history
        if suffix == ".csv":
            hist.to_csv(path, index=False)
        else:
            hist.to_parquet(path, index=False)
        out = path.with_name(path.stem + ".findings.json")
        out.write_text(json.dumps([f.to_dict() for f in self.findings], indent=2, default=float))
        return out

    def close(self) -> None:
        """Remove every hook and flush pending losses; idempotent."""
        if self._closed:
            return
        try:
            self._flush_losses()
            self.writers.close(self)
        finally:
            self._probe.close()
            self._closed = True

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------------------
    def _measure_init(self) -> list[tuple[str, float]]:
        """std(W)*sqrt(fan_in) of every trainable weight layer, read once before the first update."""
        from traindx.monitor.torch import to_floats

        try:
            layers = [(n, w) for n, w in self._probe.layers if w.requires_grad and w.dim() >= 2]
            vals = to_floats(
                [w.detach().float().std() * math.sqrt(weights.fan_in(w.shape)) for _, w in layers]
            )
            return [(n, v) for (n, _), v in zip(layers, vals, strict=True)]
        except Exception as exc:  # noqa: BLE001
            self._disable("weight_init", exc, 0)
            return []

    def _set(self, name: str, level: str, value: float | None, detail: str) -> None:
        if name not in self._disabled:
            self._status[name] = IndicatorStatus(name, level, value, detail)

    def _record(self, step: int, name: str, value: float, layer: str = "") -> None:
        self._rows.append((step, self._epoch, name, layer, float(value)))

    def _persist(self, name: str, flag: bool, k: int = PERSIST_K) -> bool:
        ev = self._evidence[name]
        ev.append(bool(flag))
        return sum(ev) >= k

    def _fire(self, code: str, severity: str, symptom: str, step: int | None = None, **kw: Any) -> None:
        cause, advice = ADVICE[code]
        f = Finding(
            code,
            severity,
            step=self._step if step is None else step,
            epoch=self._epoch,
            message=f"{symptom} (likely: {cause})",
            advice=advice,
            details={"cause": cause},
            **kw,
        )
        if code in self._findings:
            self._findings[code].merge(f)
        else:
            self._findings[code] = f
        if code in self.stop_on:
            self.should_stop = True

    def _disable(self, name: str, exc: BaseException, step: int | None = None) -> None:
        if name in self._disabled:
            return
        self._status[name] = IndicatorStatus(name, "off", None, f"disabled after {type(exc).__name__}")
        self._disabled.add(name)
        self._fire(
            "indicator_disabled",
            "warning",
            f"indicator {name!r} failed with {type(exc).__name__}: {exc}; it is off for the rest of the run",
            step=step,
        )

    def _guard(self, name: str, fn, *args: Any) -> None:
        if name in self._disabled:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - one failing indicator must not stop the others
            self._disable(name, exc)

    # -- losses --------------------------------------------------------------------------------------------
    def _flush_losses(self) -> None:
        if not self._pending:
            return
        from traindx.monitor.torch import to_floats

        values = to_floats(self._pending)
        first = len(self._losses)  # one loss per step() call, so its index is its step
        self._pending = []
        for i, v in enumerate(values):
            s = first + i
            self._rows.append((s, self._epoch, "loss", "", v))
            self._losses.append(v)
            self._guard("nan_inf", self._rule_nan_loss, s, v)
            self._guard("loss_spike", self._rule_spike, s, v)

    def _baseline(self) -> float:
        if self._base is not None:
            return self._base
        if len(self._losses) < BASELINE_STEPS:
            return lsig.baseline(self._losses[:1]) if self._losses else float("nan")
        # the first loss is the untrained model's; the median guards against one unlucky batch, the min
        # against a run that blew up within its first steps
        self._base = min(lsig.baseline(self._losses[:1]), lsig.baseline(self._losses[:BASELINE_STEPS]))
        return self._base

    def _progress(self) -> float:
        """Relative loss decrease from the baseline; nan until enough steps are seen."""
        if len(self._losses) < MIN_STEPS_FOR_PROGRESS:
            return float("nan")
        return 1.0 - lsig.baseline(self._losses[-RECENT_STEPS:]) / self._baseline()

    def _stalled(self) -> bool:
        """Whether the loss is not improving: < 10% progress, or (early on) already 1.5x above its start."""
        p = self._progress()
        if not math.isnan(p):
            return p < lsig.STALLED_PROGRESS
        if len(self._losses) < 2:
            return False
        recent = lsig.baseline(self._losses[-3:])
        return recent > lsig.SPIKE_OVER_BASELINE * lsig.baseline(self._losses[:1])

    def _rule_nan_loss(self, step: int, value: float) -> None:
        if math.isfinite(value):
            if self._status["nan_inf"].level == "pending":
                self._set("nan_inf", "ok", 0.0, "loss and gradients finite")
            return
        self._set("nan_inf", "critical", value, f"loss {value} at step {step}")
        self._fire("nan_inf", "critical", f"loss is {value} at step {step}", step=step, value=value)

    def _rule_spike(self, step: int, value: float) -> None:
        if not math.isfinite(value):
            return
        base = self._baseline()
        if self._ema is not None and not math.isnan(base) and lsig.is_spike(value, self._ema, base):
            self._set("loss_spike", "warning", value, f"{value:.3g} vs running {self._ema:.3g}")
            self._fire(
                "loss_spike",
                "warning",
                f"loss jumped to {value:.3g} at step {step}, {value / self._ema:.1f}x its running average "
                f"and {value / base:.1f}x the starting loss",
                step=step,
                value=value,
            )
        elif self._ema is not None and not math.isnan(base):
            self._set("loss_spike", "ok", value, f"running average {self._ema:.3g}")
        # the running average ignores values that are themselves spikes, so one spike is not hidden
        self._ema = value if self._ema is None else 0.9 * self._ema + 0.1 * min(value, 3 * self._ema)

    def _rule_loss_shape(self, step: int) -> None:
        n = len(self._losses)
        p = self._progress()
        if not math.isnan(p):
            self._set("learning_progress", "ok", p, f"loss {100 * p:.0f}% below its start")
        window = max(RECENT_STEPS, min(n // 10, 1000))
        if n >= 3 * window:
            tail = self._losses[-10 * window :]
            imp = lsig.plateau(tail, window)
            recent = lsig.baseline(self._losses[-window:])
            high = recent > lsig.PLATEAU_HIGH * self._baseline()
            flat = (not math.isnan(imp)) and imp < lsig.PLATEAU_TOL and high
            flat = flat and lsig.plateau_upper(tail, window) < lsig.PLATEAU_UPPER
            if self._persist("plateau", flat):
                self._set("plateau", "warning", imp, f"no gain over {window} steps at {recent:.3g}")
                self._fire(
                    "plateau",
                    "warning",
                    f"loss flat at {recent:.3g} ({100 * recent / self._baseline():.0f}% of its start) over the "
                    f"last {window} steps",
                    step=step,
                    value=imp,
                )
            else:
                self._set("plateau", "ok", imp, f"last {window} steps improved {100 * imp:.1f}%")
        osc_window = 10
        if n >= 6 * osc_window:
            changes, swing = lsig.oscillation(self._losses[-10 * osc_window :], osc_window)
            bad = changes >= lsig.OSC_SIGN_CHANGES and swing >= lsig.OSC_SWING and self._stalled()
            if self._persist("oscillation", bad):
                self._set("oscillation", "warning", swing, f"swings {100 * swing:.0f}% between windows")
                self._fire(
                    "oscillation",
                    "warning",
                    f"loss swings {100 * swing:.0f}% up and down between {osc_window}-step windows without "
                    "trending down",
                    step=step,
                    value=swing,
                )
            elif not math.isnan(swing):
                self._set("oscillation", "ok", swing, f"{100 * changes:.0f}% direction changes")

    # -- sampled steps -------------------------------------------------------------------------------------
    def _read(self, k: int) -> None:
        import torch

        from traindx.monitor.torch import to_floats

        self._reads += 1
        probe, cap = self._probe, self._probe.capture
        (gnorm, n_grads), layers = probe.grad_stats()
        first = self._reads == 1
        last_grad = next((w.grad for _, w in reversed(probe.layers) if w.grad is not None), None)
        tensors: list = [gnorm if gnorm is not None else float("nan")]
        if last_grad is not None:
            g = last_grad.detach().float().flatten()
            tensors.append(g.abs().mean() / g.std())
        tensors += [t for _, g, _, wn in layers for t in (g, wn)]
        tensors += [d for d, _ in cap.dead] + [s for s, _ in cap.saturated] + cap.input_rms
        vals = to_floats(tensors)
        it = iter(vals)
        gn = next(it)
        uniform = [next(it)] if last_grad is not None else []
        layer_vals = [(n, next(it), numel, next(it)) for n, _, numel, _ in layers]
        dead = [(next(it), units) for _, units in cap.dead]
        sat = [(next(it), size) for _, size in cap.saturated]
        in_rms = [next(it) for _ in cap.input_rms]

        self._flush_losses()
        if n_grads:
            self._record(k, "gradient_norm", gn)
        for n, g, numel, _wn in layer_vals:
            self._record(k, "grad_rms", gradients.rms(g, numel), n)
        self._guard("nan_inf", self._rule_nan_grad, k, gn, n_grads)
        self._guard("exploding_gradients", self._rule_exploding, k, gn, n_grads)
        self._guard("vanishing_gradients", self._rule_vanishing, k, layer_vals)
        self._guard("gradient_uniformity", self._rule_uniformity, k, uniform)
        self._guard("dead_relu", self._rule_dead, k, dead)
        self._guard("saturation", self._rule_saturation, k, sat)
        self._guard("input_scale", self._rule_input, k, in_rms)
        if first:
            self._guard("weight_init", self._rule_init, k, self._init_scales)
            self._guard("no_update", self._rule_optimizer_holds, k)
        self._guard("plateau", self._rule_loss_shape, k)
        if self._snap is None and "update_ratio" not in self._disabled:
            with torch.no_grad():
                snap = probe.snapshot()
                gns = to_floats(gradients.layer_norms([p.grad for _, p, _ in snap]))
            self._snap = [s for s, g in zip(snap, gns, strict=True) if g > 0 and math.isfinite(g)]
            self._snap_step, self._snap_opt, self._unchanged_checks = k, probe.optimizer_steps, 0
            if not self._snap:
                self._snap = None

    def _maybe_compare(self, k: int, sampled: bool) -> None:
        probe = self._probe
        if probe._opt_handle is not None:
            if probe.optimizer_steps <= self._snap_opt:
                return  # gradient accumulation: no optimizer step since the snapshot yet
        elif k != self._snap_step + 1 and not sampled:
            return
        import torch

        from traindx.monitor.torch import to_floats

        with torch.no_grad():
            ratios = to_floats(probe.update_ratios(self._snap))
        snap = self._snap
        changed = [r > 0 for r in ratios]
        if any(changed):
            self._snap = None
            self._guard("update_ratio", self._rule_update, k, snap, ratios)
            self._guard("no_update", self._rule_no_update, k, snap, changed)
            return
        # nothing moved: keep the snapshot and look again at later sampled steps (accumulation without an
        # optimizer handle moves the weights only every few calls)
        self._unchanged_checks += 1
        self._guard("no_update", self._rule_no_update, k, snap, changed)

    # -- rules on sampled values ---------------------------------------------------------------------------
    def _rule_nan_grad(self, k: int, gn: float, n_grads: int) -> None:
        if not n_grads or math.isfinite(gn):
            return
        if self.grad_scaler is not None:
            return  # AMP: the scaler skips this step and lowers its scale; that is its normal work
        self._set("nan_inf", "critical", gn, f"gradient norm {gn} at step {k}")
        self._fire("nan_inf", "critical", f"gradient norm is {gn} at step {k}", step=k, value=gn)

    def _rule_exploding(self, k: int, gn: float, n_grads: int) -> None:
        if not n_grads or not math.isfinite(gn):
            return
        if len(self._grad_base) < 3:
            self._grad_base.append(gn)
            self._set("exploding_gradients", "ok", gn, "measuring the early gradient norm")
            return
        base = min(self._grad_base)  # the smallest early norm: robust to a blow-up in the first steps
        ratio = gradients.growth(gn, base)
        self._record(k, "gradient_growth", ratio)
        # growth alone can be healthy (gradients grow as the loss sharpens and from a tiny init norm); with a
        # stuck or rising loss it is not (AutoTrainer gates gradient symptoms on non-convergence the same way)
        critical = ratio >= 50 * gradients.EXPLODING_FACTOR
        grown = critical or (ratio >= gradients.EXPLODING_FACTOR and self._stalled())
        if self._persist("exploding_gradients", grown):
            severity = "critical" if critical else "warning"
            self._set("exploding_gradients", severity, ratio, f"norm {gn:.3g} = {ratio:.0f}x its early value")
            self._fire(
                "exploding_gradients",
                severity,
                f"gradient norm {gn:.3g} is {ratio:.0f}x its early value {base:.3g}",
                step=k,
                value=ratio,
            )
        else:
            self._set("exploding_gradients", "ok", ratio, f"{ratio:.1f}x the early norm")

    def _rule_vanishing(self, k: int, layer_vals: list) -> None:
        if len(layer_vals) < 2:
            self._set("vanishing_gradients", "off", None, "needs >= 2 layers with gradients")
            return
        rms = [gradients.rms(g, numel) for _, g, numel, _ in layer_vals]
        ratio = gradients.vanishing_ratio(rms)
        if math.isnan(ratio):
            return
        self._record(k, "vanishing_ratio", ratio)
        stalled = self._stalled()
        if math.isnan(self._progress()):
            self._set("vanishing_gradients", "pending", ratio, f"first/last layer grad RMS {ratio:.2g}")
            return
        bad = ratio < gradients.VANISHING_RATIO and stalled
        if self._persist("vanishing_gradients", bad):
            severity = "critical" if ratio < gradients.VANISHING_RATIO**2 else "warning"
            first, last = layer_vals[0][0], layer_vals[-1][0]
            self._set(
                "vanishing_gradients", severity, ratio, f"{first} gets {ratio:.1e} of {last}'s gradient"
            )
            self._fire(
                "vanishing_gradients",
                severity,
                f"first layer {first!r} gradient RMS is {ratio:.1e}x the last layer's while the loss is stuck",
                step=k,
                value=ratio,
                layer=first,
            )
        else:
            self._set("vanishing_gradients", "ok", ratio, "first/last layer gradient RMS")

    def _rule_uniformity(self, k: int, values: list) -> None:
        if values and math.isfinite(values[0]):
            self._record(k, "grad_mean_abs_over_std", values[0])
            self._set(
                "gradient_uniformity", "ok", values[0], "mean|g|/std(g), last layer (one batch; not GSNR)"
            )

    def _rule_dead(self, k: int, dead: list) -> None:
        self._rule_share(
            k,
            dead,
            "dead_relu",
            "dead_fraction",
            (activations.DEAD_WARNING, activations.DEAD_CRITICAL),
            "{pct}% of {n} ReLU units never fire",
            "{pct}% of {n} ReLU units output zero for the whole batch",
            "{pct}% of units dead",
        )

    def _rule_saturation(self, k: int, sat: list) -> None:
        self._rule_share(
            k,
            sat,
            "saturation",
            "saturated_fraction",
            (activations.SATURATION_WARNING, activations.SATURATION_CRITICAL),
            "{pct}% of tanh/sigmoid outputs saturated",
            "{pct}% of tanh/sigmoid outputs sit in the flat tails",
            "{pct}% saturated",
        )

    def _rule_share(
        self, k: int, parts: list, name: str, signal: str, limits: tuple, bad: str, symptom: str, ok: str
    ) -> None:
        """A per-layer share (dead units, saturated outputs) pooled over layers, weighted by their size."""
        if not parts:
            return
        n = sum(size for _, size in parts)
        frac = sum(share * size for share, size in parts) / max(n, 1)
        self._record(k, signal, frac)
        pct = f"{100 * frac:.0f}"
        if self._persist(name, frac >= limits[0]):
            severity = "critical" if frac >= limits[1] else "warning"
            self._set(name, severity, frac, bad.format(pct=pct, n=n))
            self._fire(name, severity, symptom.format(pct=pct, n=n), step=k, value=frac)
        else:
            self._set(name, "ok", frac, ok.format(pct=pct, n=n))

    def _rule_input(self, k: int, in_rms: list) -> None:
        if not in_rms:
            self._set("input_scale", "off", None, "input is not a float tensor")
            return
        v = in_rms[0]
        self._record(k, "input_rms", v)
        if v > activations.INPUT_RMS_LIMIT:
            self._set("input_scale", "warning", v, f"input RMS {v:.3g}")
            self._fire(
                "input_scale", "warning", f"model input RMS is {v:.3g} (expected about 1)", step=k, value=v
            )
        else:
            self._set("input_scale", "ok", v, "input RMS")

    def _rule_init(self, k: int, scales: list) -> None:
        if not scales:
            return
        # a small or zero output layer is a deliberate, healthy choice (Fixup, Zhang et al. 2019; fresh
        # fine-tuning heads), so the last layer is held to the upper bound only
        last = scales[-1][0]
        bad = [(n, s) for n, s in scales if s > weights.INIT_HIGH or (s < weights.INIT_LOW and n != last)]
        worst = max(scales, key=lambda ns: abs(math.log(max(ns[1], 1e-12) / 0.577)))
        if bad:
            n, s = max(bad, key=lambda ns: abs(math.log(max(ns[1], 1e-12))))
            self._set("weight_init", "warning", s, f"{n}: std*sqrt(fan_in) = {s:.3g}")
            self._fire(
                "poor_init",
                "warning",
                f"layer {n!r} starts with std*sqrt(fan_in) = {s:.3g} (healthy {weights.INIT_LOW}-"
                f"{weights.INIT_HIGH}; PyTorch default 0.58, He 1.41); {len(bad)} layer(s) out of range",
                step=k,
                value=s,
                layer=n,
            )
        else:
            self._set("weight_init", "ok", worst[1], "std*sqrt(fan_in) at init, furthest layer")

    def _rule_optimizer_holds(self, k: int) -> None:
        trainable = self._probe.trainable()
        missing = self._missing_from_optimizer
        if self.optimizer is not None and trainable and len(missing) == len(trainable):
            self._set("no_update", "critical", 0.0, "optimizer holds none of the model's parameters")
            self._fire(
                "no_update",
                "critical",
                f"the optimizer holds none of the model's {len(trainable)} trainable parameters",
                step=k,
            )

    def _rule_update(self, k: int, snap: list, ratios: list) -> None:
        mats = [r for (name, p, _), r in zip(snap, ratios, strict=True) if p.dim() >= 2 and math.isfinite(r)]
        if not mats:
            return
        med = statistics.median(mats)
        self._record(k, "update_ratio", med)
        stalled = self._stalled()
        high = self._persist(
            "lr_too_high", med > weights.UPDATE_EXTREME or (med > weights.UPDATE_HIGH and stalled)
        )
        low = self._persist("lr_too_low", med < weights.UPDATE_LOW and stalled)
        if high:
            self._set("update_ratio", "warning", med, f"steps change weights by {100 * med:.1f}%")
            self._fire(
                "lr_too_high",
                "warning",
                f"each step changes the weights by {100 * med:.2g}% (healthy ~0.1-1%) and the loss is not improving",
                step=k,
                value=med,
            )
        elif low:
            self._set("update_ratio", "warning", med, f"steps change weights by {med:.1e}")
            self._fire(
                "lr_too_low",
                "warning",
                f"each step changes the weights by only {med:.1e} of their norm (healthy ~1e-3) and the loss "
                f"improved {100 * max(self._progress(), 0):.1f}%",
                step=k,
                value=med,
            )
        else:
            self._set("update_ratio", "ok", med, "||dW||/||W|| per step (median layer)")

    def _rule_no_update(self, k: int, snap: list, changed: list) -> None:
        frozen = [name for (name, _, _), c in zip(snap, changed, strict=True) if not c]
        if not frozen:
            self._set("no_update", "ok", 1.0, "all trained parameters change")
            self._evidence["no_update"].append(False)
            return
        with_opt = self._probe._opt_handle is not None
        # with an optimizer handle each check follows a real optimizer step; without one, wait for several
        # checks spread over steps so gradient accumulation is not mistaken for a frozen model
        enough = self._unchanged_checks >= 3 and k - self._snap_step >= 10 if not any(changed) else True
        if with_opt or enough:
            hit = self._persist("no_update", True)
        else:
            return
        if hit:
            share = len(frozen) / len(snap)
            severity = "critical" if share == 1.0 else "warning"
            self._set("no_update", severity, share, f"{len(frozen)} of {len(snap)} parameters unchanged")
            self._fire(
                "no_update",
                severity,
                f"{len(frozen)} of {len(snap)} parameters with nonzero gradients did not change (e.g. {frozen[0]!r})",
                step=k,
                value=share,
                layer=frozen[0],
            )

    # -- rules on epoch metrics ----------------------------------------------------------------------------
    def _rule_overfitting(self) -> None:
        ep = self._epochs
        last = ep[-1]
        gap_flag = rising = None
        if "train_acc" in last and "val_acc" in last:
            gap = lsig.acc_gap(last["train_acc"], last["val_acc"])
            gap_flag = gap >= lsig.ACC_GAP
            value, detail = gap, f"train-val accuracy gap {gap:.3f}"
        vl = [e["val_loss"] for e in ep if "val_loss" in e]
        tl = [e["train_loss"] for e in ep if "train_loss" in e]
        if len(vl) >= 2 and len(tl) >= 2:
            n = lsig.rising_epochs(vl)
            # a rising val loss while val accuracy still reaches new bests is over-confidence, not lost
            # generalization
            va = [e["val_acc"] for e in ep if "val_acc" in e]
            acc_stuck = n == 0 or len(va) <= n or max(va[-n:]) <= max(va[:-n])
            rising = n >= lsig.VAL_RISE_EPOCHS and tl[-1] < tl[-1 - min(n, len(tl) - 1)] and acc_stuck
            if gap_flag is None or rising:
                rise = lsig.val_rise(vl)
                value, detail = rise, f"val loss {100 * rise:.0f}% above its best for {n} epochs"
        if gap_flag is None and rising is None:
            if "val_acc" not in last and "val_loss" not in last:
                self._set("overfitting", "off", None, "needs validation metrics")
            return
        # both signs must last VAL_RISE_EPOCHS epochs in a row: a two-epoch excursion of validation metrics is
        # what an unstable optimizer produces too (RMSprop on digits in the held-out fault runs)
        if self._persist("overfitting", bool(gap_flag), k=lsig.VAL_RISE_EPOCHS) or rising:
            self._set("overfitting", "warning", value, detail)
            self._fire("overfitting", "warning", f"{detail} at epoch {self._epoch}", value=value)
        else:
            self._set("overfitting", "ok", value, detail)

    def _rule_underfitting(self) -> None:
        tl = [e["train_loss"] for e in self._epochs if "train_loss" in e]
        if len(tl) < 2:
            return
        base = self._baseline()
        if math.isnan(base):
            base = tl[0]
        gain = 1.0 - tl[-1] / tl[-2] if tl[-2] > 0 else float("nan")
        level = tl[-1] / base if base > 0 else float("nan")
        bad = gain < lsig.UNDERFIT_FLAT and level > lsig.UNDERFIT_HIGH
        if self._persist("underfitting", bad, k=2):
            self._set("underfitting", "warning", level, f"train loss flat at {100 * level:.0f}% of its start")
            self._fire(
                "underfitting",
                "warning",
                f"training loss flattened at {tl[-1]:.3g}, {100 * level:.0f}% of where it started "
                f"(last epoch improved {100 * gain:.1f}%)",
                value=level,
            )
        else:
            self._set("underfitting", "ok", level, f"train loss at {100 * level:.0f}% of its start")
