"""Import Hugging Face ``transformers`` Trainer runs from their ``trainer_state.json``.

The Trainer writes ``trainer_state.json`` into every ``checkpoint-<step>/`` folder and, on
``trainer.save_state()``, into its ``output_dir``. Pass the file, an ``output_dir`` (its own state file, else the
latest checkpoint's) or a folder of output dirs (one run each, named by its path below that folder).

``log_history`` holds one entry per logging call: training entries (``loss``, ``learning_rate``, ``grad_norm``)
every ``logging_steps`` and evaluation entries (``eval_loss``, ``eval_accuracy`` from ``compute_metrics``) per
``eval_strategy``, each stamped with a fractional ``epoch`` (1.0 = the end of the first epoch). An entry belongs
to the epoch it was logged in (``ceil(epoch)``) and each metric is averaged over its epoch's entries. The
closing summary entry (``train_runtime``, ``train_loss`` averaged over the whole run) is left out. The run table
takes ``num_train_epochs`` (as ``max_epochs``), ``train_batch_size`` (as ``batch_size``), ``max_steps`` and
``global_step``.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "run1"
    >>> out.mkdir()
    >>> log = [{"loss": 0.7, "epoch": 0.5, "step": 5}, {"loss": 0.5, "epoch": 1.0, "step": 10},
    ...        {"eval_loss": 0.6, "eval_accuracy": 0.8, "epoch": 1.0, "step": 10},
    ...        {"train_runtime": 1.0, "train_loss": 0.6, "epoch": 1.0, "step": 10}]
    >>> _ = (out / "trainer_state.json").write_text(json.dumps({"log_history": log, "num_train_epochs": 1}))
    >>> runs, curves = load_trainer_state(out)
    >>> curves.to_dict("list")
    {'run_id': ['run1'], 'epoch': [1], 'val_acc': [0.8], 'train_loss': [0.6], 'val_loss': [0.6]}
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError
from traindx.store.importers.base import Importer, as_path, read_text
from traindx.store.importers.history import epoch_means

STATE_FILE = "trainer_state.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_SUMMARY_KEY = "train_runtime"  # only the closing summary entry has it
_RUN_FACTS = {"num_train_epochs": "max_epochs", "train_batch_size": "batch_size", "max_steps": "max_steps",
              "global_step": "global_step"}  # fmt: skip


def _has_log_history(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")).get("log_history"), list)
    except (OSError, ValueError, AttributeError):
        return False


def _state_files(root: Path) -> dict[Path, Path]:
    """Run folder -> the state file to read: its own, else its latest checkpoint's."""
    if root.is_file():
        run_dir = root.parent.parent if _CHECKPOINT.match(root.parent.name) else root.parent
        return {run_dir: root}
    found: dict[Path, tuple[int, Path]] = {}
    for path in root.rglob(STATE_FILE):
        ckpt = _CHECKPOINT.match(path.parent.name)
        run_dir, rank = (path.parent.parent, int(ckpt[1])) if ckpt else (path.parent, math.inf)
        if run_dir not in found or rank > found[run_dir][0]:
            found[run_dir] = (rank, path)
    return {run_dir: path for run_dir, (_, path) in sorted(found.items())}


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); the file may be truncated (a run "
            "killed while saving): use the trainer_state.json of an earlier checkpoint-* folder"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise InputError(
            f"{path} has no 'log_history' list, so it is not a transformers Trainer state; pass the "
            "trainer_state.json the Trainer writes into output_dir/checkpoint-*/ or with trainer.save_state()"
        )
    return state


def _rows(state: dict, run_id: str, path: Path) -> pd.DataFrame:
    entries = [e for e in state["log_history"] if isinstance(e, dict) and _SUMMARY_KEY not in e]
    rows = []
    for entry in entries:
        epoch = entry.get("epoch")
        if not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
            continue
        values = {
            k: v for k, v in entry.items() if isinstance(v, (int, float)) and k not in ("epoch", "step")
        }
        # 1e-9: an entry at the end of epoch k is stamped k.0 (possibly k.0000000001 after float sums)
        rows.append({"run_id": run_id, "epoch": max(1, math.ceil(epoch - 1e-9)), **values})
    if not rows:
        raise InputError(
            f"{path} logged no metrics per epoch (log_history holds {len(state['log_history'])} entries, none "
            "with an epoch); train with logging_steps and eval_strategy='epoch' (or 'steps') set"
        )
    return pd.DataFrame(rows)


def load_trainer_state(source: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``trainer_state.json`` files (a file, an output_dir or a folder of them) into ``(runs, curves)``."""
    root = Path(source)
    files = _state_files(root)
    if not files:
        raise InputError(
            f"no {STATE_FILE} under {root}; pass the Trainer's output_dir (call trainer.save_state() or keep "
            "save_strategy on) or the trainer_state.json itself"
        )
    runs, curves = [], []
    for run_dir, path in files.items():
        if root.is_dir() and run_dir != root and root in run_dir.parents:
            run_id = run_dir.relative_to(root).as_posix()
        else:
            run_id = run_dir.resolve().name
        state = _read_state(path)
        curves.append(epoch_means(_rows(state, run_id, path), source=str(path)))
        facts = {
            new: state[old] for old, new in _RUN_FACTS.items() if isinstance(state.get(old), (int, float))
        }
        runs.append({"run_id": run_id, "source": "transformers", **facts})
    return pd.DataFrame(runs), pd.concat(curves, ignore_index=True)


class TrainerStateImporter(Importer):
    name = "transformers"
    reads = "a transformers Trainer's trainer_state.json, its output_dir, or a folder of output dirs"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if path.is_file():
            return path.name == STATE_FILE or (path.suffix == ".json" and _has_log_history(path))
        patterns = (
            STATE_FILE,
            f"checkpoint-*/{STATE_FILE}",
            f"*/{STATE_FILE}",
            f"*/checkpoint-*/{STATE_FILE}",
        )
        return any(any(path.glob(p)) for p in patterns)

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return load_trainer_state(source)
