"""The live training monitor: schedules samples, reads the device once per sample, fans values out to the
indicators, deduplicates and ranks their findings.

The rules live in ``traindx.monitor.indicators`` (one file each); this class only decides when to sample
(:mod:`~traindx.monitor.schedule`), what the device has to reduce (the union of the indicators' ``needs``),
and turns what the indicators report into the signal record, the live statuses and the diagnosis.

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
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from traindx.errors import InputError
from traindx.monitor.advice import ADVICE
from traindx.monitor.context import Context
from traindx.monitor.diagnosis import Diagnosis, diagnose
from traindx.monitor.findings import Finding
from traindx.monitor.indicators import REGISTRY
from traindx.monitor.loss_track import LossTrack
from traindx.monitor.schedule import Schedule
from traindx.monitor.status import IndicatorStatus
from traindx.signals import gradients, weights

#: Indicators in the order the live table shows them.
INDICATORS: tuple[str, ...] = tuple(cls.name for cls in REGISTRY)
#: Columns of the signal record (``Monitor.history``), a stable interchange format.
HISTORY_COLUMNS = ["step", "epoch", "name", "layer", "value"]


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
    epoch metrics you have. Signals are sampled under an overhead ``budget`` (fraction of wall time,
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
        t0 = time.perf_counter()
        import torch

        from traindx.monitor.findings import CODES
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
        #: micro-batches per optimizer step whose loss is divided by their number before backward (set by the
        #: framework callbacks; a plain loop that does so may set it too): rescales the output-gradient check
        self.grad_accumulation = 1
        self.writers = WriterSet(
            writers
        )  # sinks (TensorBoard, MLflow, W&B): epoch ends, close, sampled steps
        self._probe = TorchProbe(model, optimizer)
        self._schedule = Schedule(every, budget)
        self._step = 0
        self._at = 0
        self._epoch = 0
        self._pending: list = []
        self._loss = LossTrack()
        self._rows: list[tuple[int, int, str, str, float]] = []
        self._findings: dict[str, Finding] = {}
        self._disabled: set[str] = set()
        self._epochs: list[dict[str, float]] = []
        self._snap = None
        self._marker = None
        self._snap_step = 0
        self._snap_opt = 0
        self._snap_clean = False
        self._unchanged_checks = 0
        self._opt_seen = 0
        self._reads = 0
        self._closed = False
        self._status: dict[str, IndicatorStatus] = {}
        self._indicators = [cls() for cls in REGISTRY]
        self._contexts = {ind.name: Context(self, ind) for ind in self._indicators}
        self._by_event: dict[str, list] = {}
        for ind in self._indicators:
            reason = ind.off_reason(self._probe)
            if reason is not None:
                self._status[ind.name] = IndicatorStatus(ind.name, "off", None, reason)
                self._disabled.add(ind.name)
                continue
            self._status[ind.name] = IndicatorStatus(ind.name, "pending", None, "waiting for samples")
            for ev in ind.events:
                self._by_event.setdefault(ev, []).append(ind)
        self._needs = frozenset().union(
            *(ind.needs for ind in self._indicators if ind.name not in self._disabled)
        )
        self._probe.needs = self._needs
        self._missing_from_optimizer = 0
        if optimizer is not None:
            held = {id(p) for g in optimizer.param_groups for p in g["params"]}
            self._missing_from_optimizer = sum(1 for _, p in self._probe.trainable() if id(p) not in held)
        self._init_scales = self._measure_init()
        self._probe.arm()  # the very first forward pass is sampled
        self._schedule.charge(time.perf_counter() - t0)
        self._last_end: float | None = time.perf_counter()

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
        self._opt_seen = self._probe.optimizer_steps
        self._step = k + 1
        hook_s = self._probe.take_hook_time()
        t1 = time.perf_counter()
        elapsed = t1 - t0
        self._schedule.record(k, sampled, elapsed + hook_s, max(train_s - hook_s, 0.0))
        if self._schedule.due(k + 1):
            self._probe.arm()
        self._last_end = time.perf_counter()
        # the schedule's own call and arming
        self._schedule.charge(self._last_end - t1)

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
        self._at = self._step
        for name, value in metrics.items():
            self._record(self._step, name, value)
        self._emit("epoch", metrics)
        self.writers.flush(self)
        self._schedule.charge(time.perf_counter() - t0)
        self._last_end = time.perf_counter()

    @property
    def findings(self) -> list[Finding]:
        """Deduplicated findings, ranked: each episode's primary finding, then the symptoms it explains.

        Contradicted findings (see :mod:`traindx.monitor.diagnosis`) are left out.
        """
        return [f for d in self.diagnosis for f in (d.primary, *d.symptoms)]

    @property
    def diagnosis(self) -> list[Diagnosis]:
        """The findings grouped into episodes (primary finding + symptoms), most root-causal first."""
        return diagnose(self._findings.values())

    def status(self) -> list[IndicatorStatus]:
        """One :class:`IndicatorStatus` per indicator, for the live table."""
        return [self._status[ind.name] for ind in self._indicators]

    @property
    def history(self):
        """Long-format pandas DataFrame: step, epoch, name, layer ("" for whole-model values), value."""
        import pandas as pd

        self._flush_losses()
        return pd.DataFrame(self._rows, columns=HISTORY_COLUMNS)

    @property
    def overhead(self) -> float:
        """Measured fraction of wall time spent in the monitor since it was created.

        It counts the constructor, every ``step()`` and ``epoch_end()`` call, the time its forward hooks take
        inside sampled forward passes (timed in the hooks themselves) and how much slower than a typical
        unsampled step the sampled step and the one after it train. With ``every=1`` (or 2) no step is
        unsampled, so that last part is missing and the figure is a lower bound.
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
            self._snap = self._marker = None
            self._closed = True

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reporting (called by the indicators' contexts) -----------------------------------------------------
    def _set(self, name: str, level: str, value: float | None, detail: str) -> None:
        if name not in self._disabled:
            self._status[name] = IndicatorStatus(name, level, value, detail)

    def _record(self, step: int, name: str, value: float, layer: str = "") -> None:
        self._rows.append((step, self._epoch, name, layer, float(value)))

    def _fire(
        self,
        code: str,
        severity: str,
        symptom: str,
        step: int | None = None,
        words: tuple[str, str] | None = None,
        **kw: Any,
    ) -> None:
        cause, advice = words or ADVICE[code]
        f = Finding(
            code,
            severity,
            step=self._at if step is None else step,
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
        if name in self._status:
            self._status[name] = IndicatorStatus(name, "off", None, f"disabled after {type(exc).__name__}")
        self._disabled.add(name)
        self._fire(
            "indicator_disabled",
            "warning",
            f"indicator {name!r} failed with {type(exc).__name__}: {exc}; it is off for the rest of the run",
            step=step,
        )

    def _emit(self, event: str, values: Mapping[str, Any]) -> None:
        """Hand one event's values to every live indicator that listens to it."""
        for ind in self._by_event.get(event, ()):
            if ind.name in self._disabled:
                continue
            try:
                ind.update(self._contexts[ind.name], values)
            except Exception as exc:  # noqa: BLE001 - one failing indicator must not stop the others
                self._disable(ind.name, exc)

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

    def _flush_losses(self) -> None:
        if not self._pending:
            return
        from traindx.monitor.torch import to_floats

        values = to_floats(self._pending)
        first = len(self._loss)  # one loss per step() call, so its index is its step
        self._pending.clear()
        self._loss.extend(values)
        listeners = "loss" in self._by_event
        for i, v in enumerate(values):
            s = first + i
            self._rows.append((s, self._epoch, "loss", "", v))
            if listeners:
                self._at = s
                self._emit("loss", {"step": s, "loss": v})

    def _read(self, k: int) -> None:
        """The sampled step: one batched device-to-host read of what the live indicators need."""
        import torch

        from traindx.monitor.torch import to_floats

        self._reads += 1
        probe, cap, need = self._probe, self._probe.capture, self._needs
        (gnorm, n_grads), layers = (
            probe.grad_stats() if need & {"grad_norm", "layer_grads"} else ((None, 0), [])
        )
        last_grad = None
        if "grad_uniformity" in need:
            last_grad = next((w.grad for _, w in reversed(probe.layers) if w.grad is not None), None)
        tensors: list = [gnorm if gnorm is not None else float("nan")]
        if last_grad is not None:
            g = last_grad.detach().float().flatten()
            tensors.append(g.abs().mean() / g.std())
        tensors += [t for _, g, _, wn in layers for t in (g, wn)]
        tensors += [d for d, _ in cap.dead] + [s for s, _ in cap.saturated] + cap.input_rms
        tensors += [t for s, _, conf in cap.output for t in (s, conf)]
        out_grad = cap.output_grad[:1] + cap.output_slack[:1] if cap.output_grad and cap.output_slack else []
        tensors += out_grad
        it = iter(to_floats(tensors))
        values: dict[str, Any] = {"grad_norm": next(it), "n_grads": n_grads}
        values["grad_uniformity"] = [next(it)] if last_grad is not None else []
        values["layers"] = [(n, next(it), numel, next(it)) for n, _, numel, _ in layers]
        values["dead"] = [(next(it), units) for _, units in cap.dead]
        values["saturated"] = [(next(it), size) for _, size in cap.saturated]
        values["input_rms"] = [next(it) for _ in cap.input_rms]
        values["output"] = [(next(it), width, next(it)) for _, width, _ in cap.output]
        # the output's gradient against the least a cross-entropy on it would give (1 when exactly that)
        values["output_grad_ratio"] = (
            [next(it) / max(next(it), 1e-12) * self.grad_accumulation] if out_grad else []
        )
        values["root_training"] = probe.modes()

        self._flush_losses()
        self._at = k
        if n_grads:
            self._record(k, "gradient_norm", values["grad_norm"])
        for n, g, numel, _wn in values["layers"]:
            self._record(k, "grad_rms", gradients.rms(g, numel), n)
        if self._reads == 1:
            trainable = len(probe.trainable())
            self._emit(
                "start",
                {
                    "init_scales": self._init_scales,
                    "trainable": trainable,
                    "missing_from_optimizer": self._missing_from_optimizer,
                },
            )
        self._emit("sample", values)
        if self._snap is None and "snapshot" in need:
            with torch.no_grad():
                snap = probe.snapshot()
                gns = to_floats(gradients.layer_norms([p.grad for _, p, _ in snap]))
            self._snap = [s for s, g in zip(snap, gns, strict=True) if g > 0 and math.isfinite(g)] or None
            self._snap_step, self._snap_opt, self._unchanged_checks = k, probe.optimizer_steps, 0
            # one optimizer step per step() call around the snapshot: gradients are not accumulated on purpose
            self._snap_clean = probe._opt_handle is not None and probe.optimizer_steps == self._opt_seen + 1
            self._marker = (
                probe.grad_marker() if self._snap_clean and "missing_zero_grad" in self._status else None
            )

    def _maybe_compare(self, k: int, sampled: bool) -> None:
        probe = self._probe
        if probe._opt_handle is not None:
            if probe.optimizer_steps <= self._snap_opt:
                return  # gradient accumulation: no optimizer step since the snapshot yet
        elif k != self._snap_step + 1 and not sampled:
            return
        import torch

        from traindx.monitor.torch import to_floats

        snap, marker = self._snap, self._marker
        with torch.no_grad():
            tensors = probe.update_ratios(snap)
            kept = None
            if marker is not None:
                clean = k == self._snap_step + 1 and probe.optimizer_steps == self._snap_opt + 1
                same, change = probe.grad_kept(marker) if clean else (False, None)
                kept = (same, change)
                if change is not None:
                    tensors = [*tensors, change]
            vals = to_floats(tensors)
        if kept is not None and kept[1] is not None:
            kept = (kept[0], vals.pop())
        elif kept is not None:
            kept = (
                (False, 1.0) if kept[0] is False and marker is not None and k == self._snap_step + 1 else None
            )
        self._marker = None
        changed = [r > 0 for r in vals]
        self._at = k
        values = {
            "ratios": [(name, p.dim(), r) for (name, p, _), r in zip(snap, vals, strict=True)],
            "names": [name for name, _, _ in snap],
            "changed": changed,
            "unchanged_checks": self._unchanged_checks,
            "since_snapshot": k - self._snap_step,
            "with_optimizer": probe._opt_handle is not None,
            "grad_reused": kept,
        }
        if any(changed):
            self._snap = None
        else:
            # nothing moved: keep the snapshot and look again at later sampled steps (accumulation without an
            # optimizer handle moves the weights only every few calls)
            self._unchanged_checks += 1
            values["unchanged_checks"] = self._unchanged_checks
        self._emit("update", values)
