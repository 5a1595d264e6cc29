"""Ray backend: each run is a Ray task with ``num_cpus=1``, on a local Ray instance or an existing cluster.

Example:
    >>> from traindx.experiments.backends.ray import RayBackend
    >>> with RayBackend(workers=2) as b:  # doctest: +SKIP
    ...     results = list(b.imap_unordered([{"dataset": "digits", "model": "logreg", "epochs": 1}]))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from traindx.errors import require
from traindx.experiments.backends import reaper
from traindx.experiments.backends.base import POLL_SECONDS, Backend, DeferredInterrupt, died, execute


def _run(config: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return execute(config)


class RayBackend(Backend):
    """Run configs as Ray tasks.

    ``address=None`` starts a local Ray instance with ``workers`` CPUs (and stops it on close); an address
    (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``) joins an existing cluster and leaves it running.
    """

    def __init__(self, workers: int = 2, address: str | None = None) -> None:
        self.workers = max(1, int(workers))
        self.address = address
        self._started = False
        self._pending: list = []
        self._reaper = None

    def _init(self):
        ray = require("ray", "ray")
        if not ray.is_initialized():
            # workers must find the same data folders and use one thread each, as local workers do
            env = {k: v for k, v in os.environ.items() if k.startswith("TRAINDX_")}
            env["OMP_NUM_THREADS"] = "1"
            kwargs: dict[str, Any] = {
                "runtime_env": {"env_vars": env},
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if self.address is None:
                kwargs["num_cpus"] = self.workers
                self._reaper = (
                    reaper.start()
                )  # a local instance is ours: none of its processes may outlive us
            try:
                ray.init(address=self.address, **kwargs)
            except BaseException:
                reaper.stop(self._reaper)
                raise
            self._started = True
        return ray

    def imap_unordered(self, configs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        ray = self._init()
        task = ray.remote(num_cpus=1, max_retries=0)(_run)
        configs_of = {}
        for cfg in configs:
            configs_of[task.remote(cfg)] = cfg
        self._pending = list(configs_of)
        with DeferredInterrupt() as interrupt:
            while self._pending:
                interrupt.check()
                done, self._pending = ray.wait(self._pending, num_returns=1, timeout=POLL_SECONDS)
                if not done:
                    continue
                try:
                    yield ray.get(done[0])
                except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory, crashed)
                    first = (str(exc).strip().splitlines() or [""])[0]
                    yield died(
                        configs_of[done[0]],
                        f"the Ray worker running this run died ({type(exc).__name__}: {first})",
                    )

    def close(self, cancel: bool = False) -> None:
        if not self._started:
            return
        import ray

        if cancel:
            for ref in self._pending:
                ray.cancel(ref, force=True)
        self._pending = []
        ray.shutdown()
        self._started = False
        reaper.stop(self._reaper)
        self._reaper = None
