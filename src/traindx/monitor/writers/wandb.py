"""Send the monitor's values and findings to a Weights & Biases run.

Values are logged as ``traindx/<name>`` with their training step on a custom x-axis ``traindx/step`` (so they
never fight the step counter of the user's own ``wandb.log`` calls); findings are logged as a table
``traindx/findings`` and their codes kept in the run summary (``traindx/finding_codes``). Works offline
(``WANDB_MODE=offline``), where the run folder is synced later with ``wandb sync``.

Example:
    >>> issubclass(WandbWriter, Writer)  # WandbWriter(project="demo") starts a run (offline: WANDB_MODE=offline)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from traindx.errors import require
from traindx.monitor.writers.base import Writer, ranked

COLUMNS = ["code", "severity", "step", "last_step", "count", "layer", "message", "advice"]


class WandbWriter(Writer):
    """Log to the W&B run ``run``, else to the active run (``wandb.run``), else to a new run (``wandb.init``
    with ``init_kwargs``) that the writer finishes."""

    def __init__(self, run: Any = None, prefix: str = "traindx", **init_kwargs: Any) -> None:
        self.wandb = require("wandb", "wandb")
        self._own = run is None and self.wandb.run is None
        self.run = run or self.wandb.run or self.wandb.init(**init_kwargs)
        self.prefix = prefix
        self.run.define_metric(f"{prefix}/step")
        self.run.define_metric(f"{prefix}/*", step_metric=f"{prefix}/step")
        self._all: dict[str, Any] = {}

    def write(self, step: int, values: Mapping[str, float]) -> None:
        row = {f"{self.prefix}/{k}": float(v) for k, v in values.items()}
        row[f"{self.prefix}/step"] = int(step)
        self.run.log(row)

    def write_findings(self, findings: Sequence[Any]) -> None:
        for f in findings:
            self._all[f.code] = f
        self._all = {f.code: f for f in ranked(self._all.values())}
        table = self.wandb.Table(columns=COLUMNS)
        for f in self._all.values():
            table.add_data(*[getattr(f, c) for c in COLUMNS])
        self.run.log({f"{self.prefix}/findings": table})
        self.run.summary[f"{self.prefix}/finding_codes"] = ",".join(self._all)

    def close(self) -> None:
        if self._own:
            self.run.finish()
