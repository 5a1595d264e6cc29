"""Read and validate the MD tree paper's released model-diagnosis tables (one row per training configuration).

Format (Zhou et al., ICML 2024, repository YefanZhou/ModelDiagnosis): training metrics (errors in %), loss-landscape
metrics (``hessian_e`` / ``hessian_t`` natural logs of the top Hessian eigenvalue / trace, ``CKA``,
``mode_connectivity_peak`` = minus the peak training error in % along a curve between two seeds) and the labels
``bs_failure`` (small|large|optimal), ``width_vs_batch`` (width|batch|optimal), ``data_vs_batch`` (data|batch|optimal).

Example:
    >>> df = read_model_diagnosis_csv("../shared/data/mdtree/dataframe_normal_public.csv")  # doctest: +SKIP
    >>> len(df)  # doctest: +SKIP
    1690
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.errors import InputError

METRIC_COLUMNS = (
    "train_error",
    "test_error",
    "train_loss",
    "test_loss",
    "CKA",
    "hessian_e",
    "hessian_t",
    "mode_connectivity_peak",
)
LABELS = {
    "bs_failure": ("small", "large", "optimal"),
    "width_vs_batch": ("width", "batch", "optimal"),
    "data_vs_batch": ("data", "batch", "optimal"),
}


def validate_model_diagnosis_frame(df: pd.DataFrame, require_labels: bool = True) -> pd.DataFrame:
    """Check columns, units and label values of a model-diagnosis table; return it with numeric metrics.

    Example:
        >>> frame = pd.DataFrame({c: [-2.0 if c == "mode_connectivity_peak" else 5.0] for c in METRIC_COLUMNS})
        >>> len(validate_model_diagnosis_frame(frame, require_labels=False))
        1
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}; load it with pandas first")
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"model-diagnosis table lacks columns {missing}; it needs {list(METRIC_COLUMNS)} "
            "(see the MD tree paper's released dataframe_*_public.csv)"
        )
    out = df.copy()
    for c in METRIC_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    bad = [c for c in ("train_error", "test_error") if out[c].notna().any() and out[c].max() > 100]
    if bad or (out["train_error"].min() < 0):
        raise InputError(
            f"columns {bad or ['train_error']} must be errors in % within [0, 100]; rescale them"
        )
    if out["train_error"].isna().any():
        raise InputError("train_error has missing values; every row needs its training error in %")
    if len(out) >= 20 and out["train_error"].max() <= 1 and out["test_error"].max() <= 1:
        warnings.warn(
            "train_error and test_error are all <= 1: if they are fractions, multiply them by 100 (errors in %)",
            stacklevel=2,
        )
    peak = out["mode_connectivity_peak"]
    if (peak > 1e-9).any():
        raise InputError(
            "mode_connectivity_peak must be <= 0 (minus the peak training error in %); negate the column"
        )
    if require_labels:
        present = [c for c in LABELS if c in out.columns]
        if not present:
            raise InputError(f"no label column found; add at least one of {list(LABELS)}")
        for c in present:
            extra = set(out[c].dropna().astype(str)) - set(LABELS[c])
            if extra:
                raise InputError(
                    f"column {c!r} has unknown labels {sorted(extra)}; allowed: {list(LABELS[c])}"
                )
    if not np.isfinite(out[list(METRIC_COLUMNS)].fillna(0).to_numpy()).all():
        raise InputError("metric columns contain infinite values; drop or fix those rows")
    return out


def read_model_diagnosis_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a model-diagnosis CSV in the MD tree's released format and validate it.

    Example:
        >>> read_model_diagnosis_csv("/no/such.csv")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: no such file: /no/such.csv; pass the path of a model-diagnosis CSV
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {p}; pass the path of a model-diagnosis CSV")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"{p} is not a readable CSV ({exc}); pass a comma-separated table with a header"
        ) from exc
    if df.empty:
        raise InputError(f"{p} has no rows; pass a table with one row per trained configuration")
    return validate_model_diagnosis_frame(df)
