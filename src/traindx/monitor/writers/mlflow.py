"""Send the monitor's values and findings to an MLflow run.

Values are logged in batches (``MlflowClient.log_batch``) as metrics ``traindx/<name>`` at their training
step; findings go to the run as the artifact ``traindx/findings.json`` (the full list, rewritten as it changes)
and the tag ``traindx.findings`` (their codes, comma-separated), so runs can be searched by diagnosis.

Example:
    >>> issubclass(MLflowWriter, Writer)  # MLflowWriter(tracking_uri="sqlite:///mlflow.db") logs to a local store
    True
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from traindx.errors import require
from traindx.monitor.writers.base import Writer, ranked

#: MLflow accepts at most 1000 metrics per log_batch call
BATCH = 1000


class MLflowWriter(Writer):
    """Log to the MLflow run ``run_id``, else to the active run, else to a new run that the writer ends.

    Args:
        run_id: an existing run to log into.
        tracking_uri: where runs are stored (default: MLflow's own setting).
        experiment: experiment name for a new run (created when missing).
        run_name: name of a new run.
        artifact_location: where a new experiment keeps its artifacts (default: MLflow's, ``./mlruns``).
    """

    def __init__(
        self,
        run_id: str | None = None,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        artifact_location: str | None = None,
        prefix: str = "traindx",
    ) -> None:
        mlflow = require("mlflow", "mlflow")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.prefix = prefix
        self._own = False
        active = mlflow.active_run() if tracking_uri is None else None
        if run_id is None and active is not None:
            run_id = active.info.run_id
        if run_id is None:
            exp_id = "0"
            if experiment is not None:
                exp = self.client.get_experiment_by_name(experiment)
                exp_id = (
                    exp.experiment_id if exp else self.client.create_experiment(experiment, artifact_location)
                )
            run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
            self._own = True
        self.run_id = run_id
        self._all: dict[str, Any] = {}

    def write(self, step: int, values: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(f"{self.prefix}/{k}", float(v), now, int(step)) for k, v in values.items()]
        for i in range(0, len(metrics), BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[i : i + BATCH])

    def write_findings(self, findings: Sequence[Any]) -> None:
        for f in findings:
            self._all[f.code] = f
        self._all = {f.code: f for f in ranked(self._all.values())}
        dicts = [f.to_dict() for f in self._all.values()]
        self.client.log_dict(self.run_id, dicts, f"{self.prefix}/findings.json")
        self.client.set_tag(self.run_id, f"{self.prefix}.findings", ",".join(self._all))

    def close(self) -> None:
        if self._own:
            self.client.set_terminated(self.run_id)
