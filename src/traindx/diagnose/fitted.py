"""Prediction with a fitted curve diagnoser, without scikit-learn's fit machinery.

:class:`DiagnoserPrediction` holds everything a fitted diagnoser does with curves (features, probabilities,
calls, importances); :class:`~traindx.diagnose.curve_diagnoser.CurveDiagnoser` adds ``fit`` on top.
:class:`FittedDiagnoser` is a diagnoser read from a model file (:mod:`traindx.diagnose.model_file`): the same
predictions, and importing it does not import scikit-learn, which keeps ``traindx diagnose`` quick to start.

Example:
    >>> FittedDiagnoser(feature_set="full").get_params()["feature_set"]
    'full'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traindx.curves.features import featurize, featurize_checkpoints
from traindx.errors import InputError


class DiagnoserPrediction:
    """Features and predictions of a fitted diagnoser (``labels_``, ``estimators_``, ``feature_names_in_``)."""

    feature_set: str
    at_epoch: int | None

    # -- features ------------------------------------------------------------------------------------------
    def transform(self, curves: pd.DataFrame, checkpoints=None) -> pd.DataFrame:
        """Feature matrix the model reads (index run_id, or (run_id, checkpoint) with ``checkpoints``)."""
        if checkpoints is not None:
            X = featurize_checkpoints(curves, checkpoints, feature_set=self.feature_set)
        else:
            X = featurize(curves, at_epoch=self.at_epoch, feature_set=self.feature_set)
        if hasattr(self, "feature_names_in_"):
            X = X.reindex(columns=self.feature_names_in_)
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise InputError(
                "this CurveDiagnoser is not fitted; call .fit(curves, y) first (or use tdx.diagnose)"
            )

    def predict_proba_frame(
        self, curves: pd.DataFrame | None = None, X: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Probability of each label, one column per label (index as the feature rows)."""
        self._check_fitted()
        if X is None:
            X = self.transform(curves)
        Xv = X.reindex(columns=self.feature_names_in_).to_numpy(dtype=float)
        out = {}
        for label in self.labels_:
            if label in self.constant_:
                out[label] = np.full(len(X), float(self.constant_[label]))
            else:
                out[label] = self.estimators_[label].predict_proba(Xv)[:, 1]
        return pd.DataFrame(out, index=X.index)

    def predict_proba(self, curves: pd.DataFrame) -> list[np.ndarray]:
        """Per label an (n_runs, 2) array of [P(0), P(1)] (scikit-learn's multi-output convention)."""
        p = self.predict_proba_frame(curves)
        return [np.column_stack([1 - p[c].to_numpy(), p[c].to_numpy()]) for c in self.labels_]

    def predict(self, curves: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        """0/1 label frame indexed by run_id."""
        return (self.predict_proba_frame(curves) >= threshold).astype(int)

    def score(self, curves: pd.DataFrame, y: pd.DataFrame) -> float:
        """Macro-F1 over labels."""
        from sklearn.metrics import f1_score

        pred = self.predict(curves).loc[y.index.astype(str), self.labels_]
        return float(
            f1_score(y[self.labels_].to_numpy(int), pred.to_numpy(), average="macro", zero_division=0)
        )

    def feature_importances(self) -> pd.DataFrame:
        """Impurity/gain importance per feature (rows) and label (columns); NaN for models without one."""
        self._check_fitted()
        cols = {}
        for label, est in self.estimators_.items():
            if hasattr(est, "feature_importances_"):  # a forest read from a model file carries its own
                cols[label] = est.feature_importances_
                continue
            inner = (
                est.calibrated_classifiers_[0].estimator if hasattr(est, "calibrated_classifiers_") else est
            )
            if hasattr(inner, "steps"):
                inner = inner.steps[-1][1]
            imp = getattr(inner, "feature_importances_", None)
            if imp is None and hasattr(inner, "coef_"):
                imp = np.abs(inner.coef_[0])
            cols[label] = imp if imp is not None else np.full(self.n_features_in_, np.nan)
        return pd.DataFrame(cols, index=self.feature_names_in_)


class FittedDiagnoser(DiagnoserPrediction):
    """A fitted diagnoser read from data: the parameters it was fitted with, and its per-label models.

    It predicts as the :class:`~traindx.diagnose.curve_diagnoser.CurveDiagnoser` it was saved from; to refit,
    build a new ``CurveDiagnoser(**diag.get_params())``.
    """

    def __init__(self, **params: Any) -> None:
        self._params = dict(params)
        self.feature_set = params.get("feature_set", "full")
        self.at_epoch = params.get("at_epoch")
        self.model = params.get("model", "rf")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The fit parameters, as scikit-learn's ``get_params``."""
        return dict(self._params)
