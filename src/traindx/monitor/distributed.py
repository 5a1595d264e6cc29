"""The monitor under ``torch.distributed`` (DDP): every rank monitors, rank 0 reports, all ranks stop together.

Design:

- **Every rank monitors its own shard.** Each process runs an ordinary :class:`~traindx.monitor.Monitor` on its
  (unwrapped) model: losses, inputs and activations differ per rank, so a fault in one rank's data (a bad
  shard, unnormalized input) is seen where it happens. Each rank keeps its own adaptive schedule, so ranks
  sample different steps; nothing collective may therefore hang off a *sampled* step.
- **Control messages travel on a side group.** The wrapper opens one ``gloo`` process group at start
  (``dist.new_group(backend="gloo")``) and sends only CPU tensors on it, so even when training runs on NCCL
  nothing here touches a CUDA stream or forces a device-to-host copy; the CUDA and AMP paths stay as free of
  host syncs on unsampled steps as the plain monitor's (which stores the detached loss and nothing else).
- **``should_stop`` is agreed.** Every ``sync_every`` steps (a count all ranks share, since DDP steps in
  lock-step) and at every epoch end the ranks all-reduce a one-element flag (MAX of the local
  ``should_stop``): when one rank's monitor wants to stop, every rank sees ``should_stop`` at the same step and
  breaks at the same point, which a DDP loop needs (a rank that left early would hang the others'
  gradient all-reduce). Between those points ``should_stop`` keeps its last agreed value. That is one 4-byte
  CPU all-reduce per ``sync_every`` steps (default 100).
- **Findings are reduced to rank 0 and reported once.** At every epoch end and at :meth:`close` the ranks
  all-gather their findings as JSON bytes (no pickle) and merge them by code: the earliest step, the summed
  count, the worst severity, and ``details["ranks"]`` listing the ranks that saw it. Writers (TensorBoard,
  MLflow, W&B) run on rank 0 only, with rank 0's values and the merged findings; :meth:`save` writes on rank 0
  only.

Measured where: ``tests/test_distributed.py`` runs 2 processes on gloo/CPU with a real DDP model and checks
the agreement, the merge, that the monitor all-reduces only at sync points, and that tensors are read to the
host only on sampled steps (and the update-ratio step after one) and at sync points. No GPU was at hand: the
NCCL/CUDA path has not been timed, only kept free of the reads that would stall it.

All ranks must call :meth:`step`, :meth:`epoch_end` and :meth:`close` the same number of times, as they call
the training step itself. Pass writers as names (``writers=["tensorboard"]``) or build them on rank 0 only.

Example:
    >>> is_distributed()  # no process group in the doctest
    False
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from traindx.errors import InputError, is_positive_int
from traindx.monitor.findings import Finding
from traindx.monitor.writers import WriterSet
from traindx.monitor.writers.base import ranked

#: steps between two agreements on ``should_stop`` (the epoch end always agrees too)
SYNC_EVERY = 100


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group with more than one rank is running."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def merge_findings(per_rank: list[list[dict]]) -> list[Finding]:
    """Merge the ranks' findings by code (earliest step, summed count, worst severity, the ranks that saw it),
    ranked as the monitor ranks its own (primary finding of each episode first).

    Example:
        >>> a = Finding("input_scale", "warning", 40, 0, "input RMS 50", "normalize").to_dict()
        >>> b = dict(a, step=20, count=2)
        >>> [(f.step, f.count, f.details["ranks"]) for f in merge_findings([[a], [b]])]
        [(20, 3, [0, 1])]
    """
    merged: dict[str, Finding] = {}
    for rank, found in enumerate(per_rank):
        for d in found:
            f = Finding(**d)
            if f.code not in merged:
                f.details = {**f.details, "ranks": [rank]}
                merged[f.code] = f
                continue
            m = merged[f.code]
            first = min(m.step, f.step)
            m.merge(f)
            m.step = first
            m.details["ranks"].append(rank)
    for f in merged.values():
        f.caused_by = None  # the ranking is redone over all ranks' findings
    return ranked(merged.values())


class DistributedMonitor:
    """A :class:`~traindx.monitor.Monitor` per rank, with findings merged on rank 0 and ``should_stop`` agreed.

    Use it like the monitor, on every rank, after ``torch.distributed.init_process_group``. A
    ``DistributedDataParallel`` model is unwrapped (``model.module``) so hooks see the user's layers.

    Args:
        model: the model (or its DDP wrapper).
        optimizer: the torch optimizer.
        sync_every: steps between agreements on ``should_stop``.
        writers: writers fed on rank 0 only.
        **monitor_kwargs: passed on to :class:`~traindx.monitor.Monitor` (``every``, ``budget``, ``stop_on``).

    Example:
        >>> DistributedMonitor(None)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        traindx.errors.InputError: DistributedMonitor needs a running torch.distributed process group
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any = None,
        sync_every: int = SYNC_EVERY,
        writers: Iterable[Any] = (),
        **monitor_kwargs: Any,
    ) -> None:
        import torch.distributed as dist

        from traindx.monitor.core import Monitor

        if not is_distributed():
            raise InputError(
                "DistributedMonitor needs a running torch.distributed process group with 2+ ranks; call "
                "torch.distributed.init_process_group first, or use Monitor for a single process"
            )
        if not is_positive_int(sync_every):
            raise InputError(
                f"sync_every must be a positive int (steps between agreements), got {sync_every!r}"
            )
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        module = getattr(model, "module", model)  # DistributedDataParallel keeps the user's model in .module
        self.monitor = Monitor(module, optimizer, **monitor_kwargs)
        self.writers = WriterSet(writers if self.rank == 0 else ())
        self.group = dist.new_group(backend="gloo")
        self.sync_every = sync_every
        self._steps = 0
        self._stop = False
        self._merged: list[Finding] | None = None
        self._closed = False

    # -- the monitor's API -------------------------------------------------------------------------------
    def step(self, loss: Any) -> None:
        """Record one training step (see :meth:`Monitor.step`); agrees on ``should_stop`` every
        ``sync_every`` steps."""
        self.monitor.step(loss)
        self._steps += 1
        if self._steps % self.sync_every == 0:
            self._agree()

    def epoch_end(self, **metrics: float | None) -> None:
        """End an epoch on every rank: epoch rules, findings merged, ``should_stop`` agreed, rank 0 writes."""
        self.monitor.epoch_end(**metrics)
        self._reduce()
        self.writers.flush(self)

    @property
    def should_stop(self) -> bool:
        """The agreed stop flag: True on every rank once any rank's monitor asked to stop (at a sync point)."""
        return self._stop

    @property
    def findings(self) -> list[Finding]:
        """All ranks' findings merged (as of the last epoch end or close; this rank's own before the first)."""
        return self.monitor.findings if self._merged is None else self._merged

    @property
    def history(self):
        """This rank's signal record (see :attr:`Monitor.history`)."""
        return self.monitor.history

    @property
    def overhead(self) -> float:
        return self.monitor.overhead

    def status(self) -> list:
        return self.monitor.status()

    def save(self, path: str | Path) -> Path | None:
        """On rank 0, write rank 0's record and the merged findings (see :meth:`Monitor.save`); elsewhere
        nothing (returns None)."""
        if self.rank != 0:
            return None
        out = self.monitor.save(path)
        out.write_text(json.dumps([f.to_dict() for f in self.findings], indent=2, default=float))
        return out

    def close(self) -> None:
        """Close the local monitor, merge the findings and agree a last time (collective); idempotent."""
        if self._closed:
            return
        self._closed = True
        self.monitor.close()
        self._reduce()
        self.writers.close(self)

    def __enter__(self) -> DistributedMonitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # anything else (model, optimizer, stop_on, ...) is the local monitor's
        if name == "monitor":
            raise AttributeError(name)
        return getattr(self.monitor, name)

    # -- collectives (CPU tensors on the gloo side group) ------------------------------------------------
    def _agree(self) -> None:
        import torch
        import torch.distributed as dist

        flag = torch.tensor([int(self.monitor.should_stop)], dtype=torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.group)
        self._stop = self._stop or bool(flag.item())  # a CPU tensor: no device sync

    def _reduce(self) -> None:
        import torch
        import torch.distributed as dist

        payload = json.dumps([f.to_dict() for f in self.monitor.findings], default=_json_default).encode()
        size = torch.tensor([len(payload), int(self.monitor.should_stop)], dtype=torch.int64)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        dist.all_gather(sizes, size, group=self.group)
        longest = max(int(s[0]) for s in sizes)
        buf = torch.zeros(longest, dtype=torch.uint8)
        buf[: len(payload)] = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
        bufs = [torch.zeros_like(buf) for _ in range(self.world_size)]
        dist.all_gather(bufs, buf, group=self.group)
        per_rank = [
            json.loads(bytes(b[: int(s[0])].tolist()).decode()) for b, s in zip(bufs, sizes, strict=True)
        ]
        self._merged = merge_findings(per_rank)
        self._stop = self._stop or any(int(s[1]) for s in sizes)


def _json_default(value: Any) -> Any:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return v if math.isfinite(v) else str(v)
