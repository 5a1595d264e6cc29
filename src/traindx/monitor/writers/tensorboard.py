"""Send the monitor's values and findings to TensorBoard through ``torch.utils.tensorboard.SummaryWriter``.

Values become scalars under ``traindx/<name>`` (``traindx/grad_rms/<layer>`` for per-layer ones) at their
training step; findings become a Markdown table in the text tab (``traindx/findings``) at the step they were
written.

Example:
    >>> import tempfile
    >>> w = TensorBoardWriter(tempfile.mkdtemp())
    >>> w.write(0, {"loss": 0.7}); w.close()
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from traindx.errors import require
from traindx.monitor.writers.base import Writer, findings_markdown


class TensorBoardWriter(Writer):
    """Write to a TensorBoard log dir (``log_dir``) or to a ``SummaryWriter`` you already have (``writer``).

    A writer passed in is flushed but not closed: its owner closes it.
    """

    def __init__(
        self, log_dir: str | os.PathLike | None = None, writer: Any = None, prefix: str = "traindx"
    ) -> None:
        require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self._own = writer is None
        self.writer = SummaryWriter(None if log_dir is None else str(log_dir)) if writer is None else writer
        self.prefix = prefix
        self._last_step = 0

    def write(self, step: int, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"{self.prefix}/{name}", value, global_step=step)
        self._last_step = max(self._last_step, step)

    def write_findings(self, findings: Sequence[Any]) -> None:
        self.writer.add_text(
            f"{self.prefix}/findings", findings_markdown(findings), global_step=self._last_step
        )

    def close(self) -> None:
        self.writer.flush()
        if self._own:
            self.writer.close()
