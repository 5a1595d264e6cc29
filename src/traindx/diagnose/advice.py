"""Advice in words for each diagnosis label: what the call means and what to try first.

Example:
    >>> advice_for(["overfitting"]).startswith("overfitting:")
    True
"""

from __future__ import annotations

from collections.abc import Iterable

ADVICE: dict[str, str] = {
    "underfitting": "training accuracy is low; train longer, raise the learning rate or use a larger model",
    "overfitting": "train accuracy runs well ahead of validation; add data or augmentation, regularise "
    "(weight decay, dropout) or stop at the best validation epoch",
    "dataset_shift": "validation beats test by more than sampling noise explains; the test data differ from "
    "the training distribution: check preprocessing and collect or augment with data like the test set",
    "final_underfitting": "on its current course the run will end underfitting; change capacity or learning "
    "rate now rather than after the last epoch",
    "final_overfitting": "on its current course the run will end overfitting; keep the best-validation "
    "checkpoint and plan to stop early or regularise",
    "final_dataset_shift": "the val-test gap is expected to persist to the end; evaluate on data drawn like the "
    "test set",
    "shift": "the curves look like a shifted test set; compare input statistics of train and test data",
    "imbalance": "the curves look like class imbalance; report per-class recall, reweight the loss or resample",
    "small_train": "the curves look like a small training set; more data or augmentation will help most",
    "undersized_model": "the curves look like a model too small for the task; add width or depth",
    "bad_lr": "the curves look like a learning rate far from a good one; run a short learning-rate sweep",
    "label_noise": "the curves look like noisy labels; audit a sample of labels or use a noise-robust loss",
    "weight_decay": "the curves look like strong weight decay; lower it if training accuracy stalls",
    "dropout": "the curves look like heavy dropout; lower it if training accuracy stalls below validation",
}

# Imbalance applied to train and val but not test moves val - test as much as a covariate shift does; the
# cause model tells the two apart (benchmarks/RESULTS.md, diagnoser section (f)).
PRIOR_SHIFT = (
    "validation beats test, and the curves look like class imbalance rather than changed inputs: class "
    "frequencies likely differ between validation and test; compare them and report per-class recall"
)


def advice_for(labels: Iterable[str]) -> str:
    """One sentence per raised label, joined; a healthy note when none is raised.

    Cause labels named ``cause_shift_<kind>`` share the ``shift`` advice.

    Example:
        >>> advice_for([])
        'no problem detected'
        >>> advice_for(["dataset_shift", "cause_imbalance"]).split(";")[0]
        'dataset_shift: validation beats test, and the curves look like class imbalance rather than changed inputs: class frequencies likely differ between validation and test'
    """
    labels = list(labels)
    prior_shift = (
        "dataset_shift" in labels
        and "cause_imbalance" in labels
        and not any(lbl.startswith("cause_shift") for lbl in labels)
    )
    parts = []
    for label in labels:
        if label == "dataset_shift" and prior_shift:
            parts.append(f"{label}: {PRIOR_SHIFT}")
            continue
        key = label.removeprefix("cause_")
        if key.startswith("shift_"):
            key = "shift"
        text = ADVICE.get(key)
        if text and not any(p.endswith(text) for p in parts):  # shift kinds share one sentence
            parts.append(f"{label}: {text}")
    return "; ".join(parts) if parts else "no problem detected"
