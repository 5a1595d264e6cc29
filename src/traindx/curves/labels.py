"""Labels for learning curves: the study's rule labels, future labels and cause labels.

- **Rule labels** (state at an epoch), after the MNIST meta-classifier study: ``underfitting`` if train accuracy
  < 0.7, ``overfitting`` if train - val accuracy > 0.15, ``dataset_shift`` if val accuracy is noticeably higher
  than test accuracy. A fixed val - test threshold fires on i.i.d. but small sets (on 4,000+ LCDB curves
  val - test > 0.05 holds for ~6% of final points), so when set sizes are known the shift rule also asks for the
  gap to exceed ``shift_z`` standard errors of a two-proportion difference.
- **Future labels**: the rule labels at a run's final epoch, the target to predict from a prefix.
- **Cause labels**: the condition a sweep actually applied, read from the run table.

Example:
    >>> import pandas as pd
    >>> c = pd.DataFrame({"run_id": ["a", "a"], "epoch": [1, 2], "train_acc": [0.6, 0.99],
    ...                   "val_acc": [0.6, 0.80], "test_acc": [0.6, 0.79]})
    >>> rule_labels(c).loc["a"].to_dict()
    {'underfitting': 0, 'overfitting': 1, 'dataset_shift': 0}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindx.curves.features import two_proportion_z
from traindx.curves.schema import validate_curves
from traindx.errors import InputError

RULE_LABELS = ("underfitting", "overfitting", "dataset_shift")

# The study's thresholds: train accuracy < 0.7 is underfitting, a train-val gap > 0.15 is overfitting.
UNDERFIT_ACC = 0.7
OVERFIT_GAP = 0.15
# val - test > 0.05 is the "noticeably higher" margin; 3 standard errors keep the false-alarm rate of i.i.d.
# sets near the one-sided normal tail 0.13%.
SHIFT_DELTA = 0.05
SHIFT_Z = 3.0


def _at(curves: pd.DataFrame, at_epoch: int | None) -> pd.DataFrame:
    """The last row of each run with epoch <= at_epoch (each run's last row when None)."""
    c = validate_curves(curves, allow_gaps=True)
    if at_epoch is not None:
        c = c[c["epoch"] <= at_epoch]
        if c.empty:
            raise InputError(f"no run has an epoch <= {at_epoch}; epochs are 1-based")
    c = c.sort_values(["run_id", "epoch"], kind="stable")
    last = c.groupby("run_id", sort=False).last()
    return last.reindex(pd.Index(pd.unique(c["run_id"]), name="run_id"))


def rule_labels(
    curves: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    at_epoch: int | None = None,
    underfit_acc: float = UNDERFIT_ACC,
    overfit_gap: float = OVERFIT_GAP,
    shift_delta: float = SHIFT_DELTA,
    shift_z: float | None = SHIFT_Z,
) -> pd.DataFrame:
    """0/1 rule labels per run (index ``run_id``) at ``at_epoch`` (or each run's last epoch).

    Set sizes come from the curve columns ``n_val``/``n_test`` or, failing that, from ``runs`` (a run table with
    ``n_val``/``n_test``). Without sizes, or with ``shift_z=None``, the shift rule is the fixed
    ``val - test > shift_delta``. A metric the table lacks gives label 0.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["a"], "epoch": [1], "train_acc": [0.9], "val_acc": [0.9],
        ...                   "test_acc": [0.8], "n_val": [100], "n_test": [100]})
        >>> int(rule_labels(c).loc["a", "dataset_shift"])  # 0.1 is < 3 SE (~0.13) with 100 examples each
        0
    """
    last = _at(curves, at_epoch)
    if runs is not None:
        if "run_id" in runs.columns:
            runs = runs.set_index(runs["run_id"].astype(str))
        for col in ("n_val", "n_test"):
            if col not in last.columns and col in runs.columns:
                last[col] = runs[col].reindex(last.index).to_numpy()

    def col(name: str) -> np.ndarray:
        return last[name].to_numpy(float) if name in last.columns else np.full(len(last), np.nan)

    train, val, test = col("train_acc"), col("val_acc"), col("test_acc")
    diff = val - test
    shift = diff > shift_delta
    if shift_z is not None and {"n_val", "n_test"} <= set(last.columns):
        z = two_proportion_z(val, test, col("n_val"), col("n_test"))
        shift &= ~(z <= shift_z)  # unknown sizes (NaN z) fall back to the fixed margin
    out = pd.DataFrame(
        {
            "underfitting": train < underfit_acc,
            "overfitting": (train - val) > overfit_gap,
            "dataset_shift": shift,
        },
        index=last.index,
    )
    return out.astype(int)


def checkpoint_rule_labels(curves: pd.DataFrame, epochs, **thresholds) -> pd.DataFrame:
    """:func:`rule_labels` at several epochs, index (run_id, checkpoint), runs shorter than a checkpoint dropped.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["a"] * 2, "epoch": [1, 2], "train_acc": [0.5, 0.9], "val_acc": [0.5, 0.7]})
        >>> checkpoint_rule_labels(c, [1, 2])["underfitting"].tolist()
        [1, 0]
    """
    last = curves.groupby(curves["run_id"].astype(str))["epoch"].max()
    parts = []
    for k in epochs:
        sub = curves[curves["run_id"].astype(str).isin(last.index[last >= k])]
        if sub.empty:
            continue
        y = rule_labels(sub, at_epoch=int(k), **thresholds)
        y.index = pd.MultiIndex.from_arrays(
            [y.index, np.full(len(y), int(k))], names=["run_id", "checkpoint"]
        )
        parts.append(y)
    return pd.concat(parts).sort_index()


def future_labels(curves: pd.DataFrame, runs: pd.DataFrame | None = None, **thresholds) -> pd.DataFrame:
    """Rule labels at each run's final epoch, renamed ``final_<label>``: the target for early diagnosis.

    Featurize a prefix (``featurize(curves, at_epoch=k)``) and fit these to learn where a run is heading.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["a"] * 2, "epoch": [1, 2], "train_acc": [0.6, 0.99], "val_acc": [0.6, 0.8]})
        >>> future_labels(c).loc["a", "final_overfitting"]
        np.int64(1)
    """
    return rule_labels(curves, runs=runs, **thresholds).add_prefix("final_")


# Cause thresholds. The corpus draws each condition from a grid whose "healthy" setting is imbalance 1.0,
# label_noise 0 and shift "none". A train set of fewer than 100 examples per class (1,000 for 10 classes) is
# "small": MNIST-scale learning curves are still steep there (Cortes et al., NIPS 1993). A learning rate is "bad"
# when it lies more than 10x away from the optimizer's usual default (SGD 0.1, Adam/AdamW/RMSprop 1e-3; Bengio,
# "Practical recommendations", 2012: the good range spans about one order of magnitude around the optimum).
SMALL_TRAIN_N = 1000
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.1, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
BAD_LR_FACTOR = 10.0
UNDERSIZED_MODELS = ("logreg",)
# A model is undersized when it is linear, or when its narrowest layer has at most 4 units/channels in front of
# 10 classes: the logits then have rank <= 4 (the softmax bottleneck, Yang et al., ICLR 2018). Parameter counts do
# not compare across families (a 4k-parameter CNN beats a 8k-parameter linear model on MNIST).
UNDERSIZED_WIDTH = 4


def cause_labels(
    runs: pd.DataFrame,
    small_train_n: int = SMALL_TRAIN_N,
    bad_lr_factor: float = BAD_LR_FACTOR,
    undersized_models: tuple[str, ...] = UNDERSIZED_MODELS,
    undersized_width: int = UNDERSIZED_WIDTH,
) -> pd.DataFrame:
    """0/1 cause labels per run (index ``run_id``) from the conditions in the run table.

    Columns, each present only when its source column exists: ``shift_<kind>`` for every applied shift kind
    and ``shift`` (any kind), ``imbalance`` (imbalance < 1), ``small_train`` (n_train < ``small_train_n``),
    ``undersized_model`` (model in ``undersized_models`` or width <= ``undersized_width``), ``bad_lr`` (lr more than ``bad_lr_factor`` away from the optimizer's default), ``label_noise`` (> 0).

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"run_id": ["a", "b"], "shift": ["none", "noise"], "imbalance": [1.0, 0.1]})
        >>> cause_labels(runs).values.tolist()
        [[0, 0, 0], [1, 1, 1]]
    """
    if not isinstance(runs, pd.DataFrame) or "run_id" not in runs.columns:
        raise InputError(
            "cause_labels needs the run table (a DataFrame with run_id); get it from tdx.load_runs"
        )
    r = runs.set_index(runs["run_id"].astype(str))
    r.index.name = "run_id"
    out = pd.DataFrame(index=r.index)
    if "shift" in r.columns:
        kind = r["shift"].fillna("none").astype(str).str.lower()
        for k in sorted(set(kind) - {"none", ""}):
            out[f"shift_{k}"] = (kind == k).astype(int)
        out["shift"] = (~kind.isin(["none", ""])).astype(int)
    if "imbalance" in r.columns:
        out["imbalance"] = (r["imbalance"].astype(float) < 1.0).astype(int)
    if "n_train" in r.columns:
        out["small_train"] = (r["n_train"].astype(float) < small_train_n).astype(int)
    if "model" in r.columns:
        small = r["model"].astype(str).isin(undersized_models)
        if "width" in r.columns:
            small |= pd.to_numeric(r["width"], errors="coerce").le(undersized_width)
        out["undersized_model"] = small.astype(int)
    if "lr" in r.columns and "optimizer" in r.columns:
        default = r["optimizer"].astype(str).str.lower().map(DEFAULT_LR)
        ratio = np.abs(np.log10(r["lr"].astype(float) / default))
        out["bad_lr"] = (ratio > np.log10(bad_lr_factor)).fillna(False).astype(int)
    if "label_noise" in r.columns:
        out["label_noise"] = (r["label_noise"].astype(float) > 0).astype(int)
    if out.shape[1] == 0:
        raise InputError(
            "run table has none of the condition columns (shift, imbalance, n_train, model, lr+optimizer, "
            "label_noise); cause labels need the conditions the sweep applied"
        )
    return out
