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

import torch

from traindx.errors import InputError, is_positive_int
from traindx.monitor.advice import ADVICE
from traindx.monitor.context import Context
from traindx.monitor.diagnosis import Diagnosis, diagnose, is_adaptive
from traindx.monitor.findings import CODES, Finding
from traindx.monitor.indicators import REGISTRY
from traindx.monitor.loss_track import LossTrack
from traindx.monitor.schedule import Schedule
from traindx.monitor.status import IndicatorStatus
from traindx.monitor.torch import TorchProbe, scaled_stds_from, stack, std_parts, to_floats
from traindx.monitor.writers import WriterSet
from traindx.signals import gradients, weights

#: Indicators in the order the live table shows them.
INDICATORS: tuple[str, ...] = tuple(cls.name for cls in REGISTRY)
#: Columns of the signal record (``Monitor.history``), a stable interchange format.
HISTORY_COLUMNS = ["step", "epoch", "name", "layer", "value"]
#: Unsampled steps keep their losses on the device; this many are folded into one vector (no host read).
PENDING_CHUNK = 1000


def _as_loss(loss: Any):
    if isinstance(loss, torch.Tensor):
        if loss.dim() == 0:  # the usual case, and the cheapest: every unsampled step comes here
            return loss.detach()
        return loss.detach().float().mean() if loss.numel() != 1 else loss.detach().reshape(())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    if hasattr(loss, "__float__"):
        return float(loss)
    raise InputError(
        f"Monitor.step got a loss of type {type(loss).__name__}; pass the loss tensor or a float"
    )


#: A parameter's gradient (per-element RMS) below this fraction of the median parameter's is round-off, not
#: a signal: 1e-4 is about 1,000 times float32's epsilon times the terms it would be the residue of, and far
#: below what a trained layer gets (vanishing gradients are their own indicator).
NEGLIGIBLE_GRAD = 1e-4


def _learning_rate_of(optimizer) -> dict[int, float]:
    """Parameter id -> the learning rate of the optimizer's group that holds it (a tensor lr counts as 1.0:
    nonzero), built once per update check rather than searched per parameter.

    Example:
        >>> p = torch.nn.Parameter(torch.ones(1))
        >>> _learning_rate_of(torch.optim.SGD([p], lr=0.1)) == {id(p): 0.1}
        True
    """
    out: dict[int, float] = {}
    for group in getattr(optimizer, "param_groups", ()):
        lr = group.get("lr", 0.0)
        lr = float(lr) if isinstance(lr, (int, float)) else 1.0
        out.update((id(q), lr) for q in group["params"])
    return out


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
        if not isinstance(model, torch.nn.Module):
            raise InputError(f"Monitor needs a torch.nn.Module, got {type(model).__name__}; pass your model")
        if every is not None and not is_positive_int(every):
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
        self._update = None
        self._resumed = False
        self._snap_step = 0
        self._snap_opt = 0
        self._unchanged_checks = 0
        self._opt_seen = 0
        self._opt_before_last: int | None = None  # optimizer steps before the last step() call's
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
        t1 = time.perf_counter()
        self._schedule.charge(t1 - t0)
        self._probe.arm()  # the very first forward pass is sampled
        self._prepare(-1)  # its parameter copy: the update ratio of step 0
        self._last_end: float | None = time.perf_counter()
        self._schedule.charge(self._last_end - t1, cycle=True)

    # -- public API ----------------------------------------------------------------------------------------
    def step(self, loss: Any) -> None:
        """Record one training step; call it after ``optimizer.step()`` with the loss (tensor or float).

        Unsampled steps only keep the detached loss on its device (no host read); sampled steps read the
        hooks, gradients, update ratios and pending losses in one transfer.
        """
        if self._closed:
            return
        t0 = time.perf_counter()
        train_s = 0.0 if self._last_end is None else t0 - self._last_end
        k = self._step
        self._pending.append(_as_loss(loss))
        sampled = self._probe.armed
        try:
            if sampled:
                self._read(k)
                self.writers.maybe_flush(self)
            else:
                probe = self._probe
                if (
                    self._snap is not None
                    and self._update is None
                    and probe._opt_handle is not None
                    and probe.optimizer_steps == self._snap_opt + 1
                ):
                    # accumulation: the copy's optimizer step came after its sample; compare now, read later
                    self._update = self._update_tensors(k)
                if len(self._pending) >= PENDING_CHUNK:
                    self._compact_losses()
        except Exception as exc:  # noqa: BLE001 - the monitor must never break the training loop
            self._disable("collection", exc, k)
        finally:
            if sampled:
                self._probe.disarm()
        opt_before, self._opt_seen = self._opt_seen, self._probe.optimizer_steps
        self._opt_before_last = opt_before
        self._step = k + 1
        hook_s = self._probe.take_hook_time()
        t1 = time.perf_counter()
        resumed, self._resumed = self._resumed, False
        self._schedule.record(k, sampled, t1 - t0 + hook_s, max(train_s - hook_s, 0.0), resumed)
        due = self._schedule.due(k + 1)
        if due:
            self._probe.arm()
            try:
                self._prepare(k, opt_before)
            except Exception as exc:  # noqa: BLE001
                self._disable("collection", exc, k)
        self._last_end = time.perf_counter()
        # the schedule's own call; before a sample also arming and the parameter copy, part of its cost
        self._schedule.charge(self._last_end - t1, cycle=due)

    def epoch_end(
        self,
        train_loss: float | None = None,
        val_loss: float | None = None,
        train_acc: float | None = None,
        val_acc: float | None = None,
        val_size: int | None = None,
    ) -> None:
        """Record end-of-epoch metrics (any subset) and run the epoch-level rules (over/underfitting).

        ``val_size``: the number of validation examples behind ``val_acc``, if known; it sets how far from
        chance a validation accuracy can be by sampling noise alone.
        """
        if self._closed:
            return
        if val_size is not None and not is_positive_int(val_size):
            raise InputError(
                f"val_size is the number of validation examples (a positive int), got {val_size!r}"
            )
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
        if val_size is not None:
            metrics["val_size"] = float(val_size)  # for the rules, not a signal of the record
        self._emit("epoch", metrics)
        self.writers.flush(self)
        if self._schedule.wants_sample() and not self._probe.armed and "collection" not in self._disabled:
            # the epoch-end rules need one steady sample (Schedule.wants_sample): the next step is it
            self._probe.arm()
            try:
                # with the last step's optimizer count, so that this sample also checks that gradients reset
                # (often a short run's first sample after step 0, and the only one on a loaded machine)
                self._prepare(self._step - 1, self._opt_before_last)
            except Exception as exc:  # noqa: BLE001
                self._disable("collection", exc, self._step)
        self._schedule.charge(time.perf_counter() - t0)
        self._last_end = time.perf_counter()
        self._resumed = True

    @property
    def findings(self) -> list[Finding]:
        """Deduplicated findings, ranked: each episode's primary finding, then the symptoms it explains.

        Contradicted findings (see :mod:`traindx.monitor.diagnosis`) are left out.
        """
        return [f for d in self.diagnosis for f in (d.primary, *d.symptoms)]

    @property
    def diagnosis(self) -> list[Diagnosis]:
        """The findings grouped into episodes (primary finding + symptoms), most root-causal first."""
        return diagnose(self._findings.values(), adaptive=is_adaptive(self.optimizer))

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

        It counts the constructor, every ``step()``, ``epoch_end()`` and ``close()`` call, the time its forward
        hooks take inside sampled forward passes (timed in the hooks themselves) and how much slower than a
        typical unsampled step the sampled step and the one after it train. Gaps between steps count as at
        most a few typical steps (one after ``epoch_end``). With ``every=1`` (or 2) no step is unsampled, so
        the slowdown part is missing and the figure is a lower bound.
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
        t0 = time.perf_counter()
        try:
            self._flush_losses()
            self.writers.close(self)
        finally:
            self._probe.close()
            self._snap = self._marker = self._update = None
            self._closed = True
            self._schedule.charge(time.perf_counter() - t0)

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
    def _measure_init(self) -> tuple[list[str], Any, list[int], list[float]] | list:
        """std(W)*sqrt(fan_in) of every trainable weight layer before the first update: computed on the
        device now, read with the first sample."""
        try:
            layers = [(n, w) for n, w in self._probe.layers if w.requires_grad and w.dim() >= 2]
            if not layers:
                return []
            with torch.no_grad():
                parts = std_parts([w.detach().float() for _, w in layers])
            factors = [math.sqrt(weights.fan_in(w.shape)) for _, w in layers]
            return [n for n, _ in layers], parts, [w.numel() for _, w in layers], factors
        except Exception as exc:  # noqa: BLE001
            self._disable("weight_init", exc, 0)
            return []

    def _flush_losses(self, read: list | None = None) -> None:
        """Hand the pending losses to the loss track and the record (``read``: their values, already read)."""
        if not self._pending:
            return
        read = to_floats(self._pending) if read is None else read
        values = [x for v in read for x in (v if isinstance(v, list) else (v,))]
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

    def _compact_losses(self) -> None:
        """Many unsampled steps in a row (a long fixed period): fold the pending losses into one on-device
        vector, so that the list stays short without a host read."""
        p = self._pending
        if all(isinstance(v, torch.Tensor) for v in p) and len({v.device for v in p}) == 1:
            chunks = [v.float() for v in p if v.dim() == 1]
            self._pending = [torch.cat([*chunks, torch.stack([v.float() for v in p if v.dim() == 0])])]
        else:  # floats among them: the loop reads its losses itself
            self._flush_losses()

    def _read(self, k: int) -> None:
        """The sampled step: one batched device-to-host read of what the live indicators need."""
        self._reads += 1
        probe, cap, need = self._probe, self._probe.capture, self._needs
        # groups of on-device values (0-d or 1-d tensors, or floats), each read as a float or list of floats
        group: dict[str, Any] = {}
        n_grads, names, numels, known = 0, [], [], None
        if need & {"grad_norm", "layer_grads"}:
            gnorm, n_grads, names, numels, lg, lw = probe.grad_stats()
            known = probe.grad_norms
            group["grad_norm"] = gnorm if gnorm is not None else float("nan")
            if names:
                group["layer_grad"], group["layer_weight"] = lg, lw
        if "grad_uniformity" in need:
            last = next((w.grad for _, w in reversed(probe.layers) if w.grad is not None), None)
            if last is not None:
                g = last.detach().float().flatten()
                group["uniformity"] = g.abs().mean() / g.std()
        for key in ("dead", "saturated"):
            got = getattr(cap, key)
            if got:
                group[key] = stack([t for t, _ in got])
        if cap.output:
            group["output"] = stack([t for s, _, conf in cap.output for t in (s, conf)])
        if cap.output_grad and cap.output_slack:
            group["output_grad"] = stack([cap.output_grad[0], cap.output_slack[0], *cap.output_shift[:1]])
        if cap.input_rms:
            group["input_rms"] = stack(cap.input_rms)
        update = self._update
        if update is None and self._snap is not None:
            update = self._update = self._update_tensors(k, known)
        if update is not None:
            group["ratios"], group["update_gnorms"] = update["tensors"]
            if update["kept"] is not None and update["kept"][1] is not None:
                group["kept"] = update["kept"][1]
        init = self._init_scales if self._reads == 1 and isinstance(self._init_scales, tuple) else None
        if init is not None:
            group["init"] = init[1]
        # the one device-to-host transfer of the sample: its values and every loss since the last one
        keys = list(group)
        read = to_floats([group[key] for key in keys] + self._pending)
        got = dict(zip(keys, read, strict=False))
        values: dict[str, Any] = {"grad_norm": got.get("grad_norm", float("nan")), "n_grads": n_grads}
        values["grad_uniformity"] = [got["uniformity"]] if "uniformity" in got else []
        values["layers"] = (
            list(zip(names, got["layer_grad"], numels, got["layer_weight"], strict=True)) if names else []
        )
        values["dead"] = list(zip(got.get("dead", []), [u for _, u in cap.dead], strict=True))
        values["saturated"] = list(zip(got.get("saturated", []), [z for _, z in cap.saturated], strict=True))
        values["input_rms"] = got.get("input_rms", [])
        out = got.get("output", [])
        values["output"] = [(out[2 * i], w, out[2 * i + 1]) for i, (_, w, _) in enumerate(cap.output)]
        # the output's gradient against the least a cross-entropy on it would give (1 when exactly that)
        og = got.get("output_grad")
        values["output_grad_ratio"] = [og[0] / max(og[1], 1e-12) * self.grad_accumulation] if og else []
        # how far the loss is from ignoring a constant added to each output row (0: it applies softmax itself)
        values["output_shift_ratio"] = [og[2] / og[0]] if og and len(og) == 3 and og[0] > 0 else []
        values["root_training"] = probe.modes()
        if init is not None:
            scales = scaled_stds_from(got["init"], init[2], init[3])
            self._init_scales = list(zip(init[0], scales, strict=True))
        elif isinstance(self._init_scales, tuple):
            self._init_scales = []
        self._flush_losses(read[len(keys) :])
        self._at = k
        if n_grads:
            self._record(k, "gradient_norm", values["grad_norm"])
        for name, g, numel, _wn in values["layers"]:
            self._record(k, "grad_rms", gradients.rms(g, numel), name)
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
        if update is not None:
            self._emit_update(update, got["ratios"], got["update_gnorms"], got.get("kept"))

    def _prepare(self, k: int, opt_before: int | None = None) -> None:
        """Before a sampled step: copy the trained parameters, so that the sample reads the update of its
        own optimizer step in the same transfer as the rest (device work only, no host read)."""
        if self._snap is not None or "snapshot" not in self._needs or "collection" in self._disabled:
            return
        probe = self._probe
        with torch.no_grad():
            self._snap = probe.snapshot()
        self._update = None
        self._snap_step, self._snap_opt, self._unchanged_checks = k, probe.optimizer_steps, 0
        # one optimizer step per step() call around the copy: gradients are not accumulated on purpose
        clean = opt_before is not None and probe._opt_handle is not None
        clean = clean and probe.optimizer_steps == opt_before + 1
        self._marker = probe.grad_marker() if clean and "missing_zero_grad" in self._status else None

    def _update_tensors(self, k: int, known: Mapping[int, Any] | None = None) -> dict | None:
        """On-device ||dW||/||W|| since the copy (and the kept-gradient check), or None if not comparable yet.

        ``known``: this step's gradient norms by parameter id, already computed for the sample (not again).
        """
        probe, snap = self._probe, self._snap
        if probe._opt_handle is not None and probe.optimizer_steps <= self._snap_opt:
            return None  # gradient accumulation: no optimizer step since the copy yet
        live = [(n, p, c) for n, p, c in snap if p.grad is not None]
        if any(c.device != p.device or c.shape != p.shape for _, p, c in live):
            self._snap = self._marker = None  # the model moved or was resized since the copy
            return None
        if not live:
            return None
        with torch.no_grad():
            known = known or {}
            fresh = iter(gradients.layer_norms([p.grad for _, p, _ in live if id(p) not in known]))
            gnorms = stack([known[id(p)] if id(p) in known else next(fresh) for _, p, _ in live])
            ratios = probe.update_ratios([c for _, _, c in live], [p.detach() for _, p, _ in live])
            tensors = [ratios, gnorms]
            marker, kept = self._marker, None
            if marker is not None:
                clean = k == self._snap_step + 1 and probe.optimizer_steps == self._snap_opt + 1
                kept = probe.grad_kept(marker) if clean else (False, None)
        self._marker = None
        return {"step": k, "live": live, "tensors": tensors, "kept": kept, "marker": marker}

    def _emit_update(
        self, update: dict, ratios: list[float], gnorms: list[float], change: float | None
    ) -> None:
        """Hand the update values of one comparison (read with the sample) to the indicators."""
        live = update["live"]
        k = update["step"]
        kept = update["kept"]
        if kept is not None and kept[1] is not None:
            kept = (kept[0], change)
        elif kept is not None:
            kept = (False, 1.0) if kept[0] is False and k == self._snap_step + 1 else None
        # parameters whose gradient is zero or not finite have nothing to say about the update, nor those
        # whose gradient is rounding noise: a bias right before a BatchNorm is cancelled by it, so its
        # gradient is float32 round-off of terms that sum to zero (eps 1.2e-7 of their size) and an SGD step
        # on it rounds to nothing (a Conv1d+BatchNorm net: its `conv.0.bias` read as `no_update`). Per-element
        # RMS below NEGLIGIBLE_GRAD of the median parameter's is taken as such noise.
        rms = [g / math.sqrt(max(p.numel(), 1)) for (_, p, _), g in zip(live, gnorms, strict=True)]
        ok = sorted(x for x in rms if x > 0 and math.isfinite(x))
        floor = NEGLIGIBLE_GRAD * ok[len(ok) // 2] if ok else 0.0
        rows = [
            (n, p, r)
            for (n, p, _), r, g, x in zip(live, ratios, gnorms, rms, strict=True)
            if g > 0 and math.isfinite(g) and x >= floor
        ]
        self._update = None
        if not rows:
            self._snap = None
            return
        changed = [r > 0 for _, _, r in rows]
        if any(changed):
            self._snap = None
        else:
            # nothing moved: keep the copy and look again at later samples (accumulation without an
            # optimizer handle moves the weights only every few calls)
            self._probe.restore([c for _, _, c in live], [p.detach() for _, p, _ in live])
            self._unchanged_checks += 1
        at, self._at = self._at, k
        lr_of = _learning_rate_of(self.optimizer)
        self._emit(
            "update",
            {
                "ratios": [(n, p.dim(), r) for n, p, r in rows],
                "names": [n for n, _, _ in rows],
                "changed": changed,
                # stepped by the optimizer at a learning rate above 0 (a parameter it does not hold, or holds
                # at lr 0, cannot move; one it steps can rest only below float resolution)
                "stepped": [id(p) in self._probe.held and lr_of.get(id(p), 0.0) > 0 for _, p, _ in rows],
                "unchanged_checks": self._unchanged_checks,
                "since_snapshot": k - self._snap_step,
                "with_optimizer": self._probe._opt_handle is not None,
                "grad_reused": kept,
            },
        )
        self._at = at
