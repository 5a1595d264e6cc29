"""CurveDiagnoser: a scikit-learn multi-label estimator that reads learning curves.

``X`` is the tidy curve table; ``y`` is a 0/1 label frame indexed either by ``run_id`` (one row per run,
featurized at ``at_epoch``) or by (``run_id``, ``checkpoint``) (one row per run and checkpoint, each featurized
from the prefix up to that checkpoint, as :func:`traindx.curves.featurize_checkpoints` builds). One calibrated
binary model is fitted per label. Calibration folds are grouped by run, so rows of one run never calibrate a model
that saw them (per-checkpoint splits leak).

Models: ``"rf"`` (default; best in the MNIST meta-classifier study), ``"xgboost"``, ``"lightgbm"``, ``"logreg"``
and ``"ensemble"`` (soft vote of RF, XGBoost and logistic regression, as in the study).

Example:
    >>> import pandas as pd
    >>> from traindx.curves import rule_labels
    >>> rows = [(f"r{i}", e, min(1.0, 0.5 + 0.05 * e * (i % 3)), 0.5 + 0.01 * e) for i in range(12) for e in (1, 2, 3)]
    >>> curves = pd.DataFrame(rows, columns=["run_id", "epoch", "train_acc", "val_acc"])
    >>> diag = CurveDiagnoser(n_estimators=20).fit(curves, rule_labels(curves))
    >>> diag.predict(curves).shape
    (12, 3)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from traindx.curves.features import featurize, featurize_checkpoints
from traindx.diagnose.fitted import DiagnoserPrediction
from traindx.errors import InputError

MODELS = ("rf", "xgboost", "lightgbm", "logreg", "ensemble")


def _fill() -> SimpleImputer:
    # a metric the source never logged is NaN; -1 lies outside every accuracy/slope range seen in practice
    return SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True)


def make_model(name: str, n_estimators: int = 200, random_state: int = 0, class_weight: str | None = None):
    """The unfitted binary classifier behind one label.

    ``class_weight="balanced"`` weighs the classes inversely to their frequency (random forest: per bootstrap
    sample) in the forest, logistic regression and LightGBM; XGBoost is left unweighted.

    Example:
        >>> type(make_model("logreg")).__name__
        'Pipeline'
    """
    if name == "rf":
        return make_pipeline(
            _fill(),
            RandomForestClassifier(
                n_estimators=n_estimators,
                min_samples_leaf=2,
                class_weight="balanced_subsample" if class_weight == "balanced" else class_weight,
                n_jobs=1,
                random_state=random_state,
            ),
        )
    if name == "xgboost":
        import xgboost as xgb

        return xgb.XGBClassifier(
            n_estimators=n_estimators, max_depth=4, learning_rate=0.1, n_jobs=1, random_state=random_state,
            verbosity=0,
        )  # fmt: skip
    if name == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            n_estimators=n_estimators, num_leaves=15, learning_rate=0.05, n_jobs=1, random_state=random_state,
            class_weight=class_weight, verbose=-1,
        )  # fmt: skip
    if name == "logreg":
        return make_pipeline(
            _fill(), StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, class_weight=class_weight)
        )
    if name == "ensemble":
        return VotingClassifier(
            [
                ("rf", make_model("rf", n_estimators, random_state, class_weight)),
                ("xgboost", make_model("xgboost", n_estimators, random_state)),
                ("logreg", make_model("logreg", class_weight=class_weight)),
            ],
            voting="soft",
        )
    raise InputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


CLASS_WEIGHTS = ("balanced", None)


class CurveDiagnoser(DiagnoserPrediction, ClassifierMixin, BaseEstimator):
    """Multi-label diagnosis of learning curves with calibrated probabilities.

    Parameters:
        model: one of ``"rf"``, ``"xgboost"``, ``"lightgbm"``, ``"logreg"``, ``"ensemble"``.
        at_epoch: featurize each run's prefix up to this epoch (``None``: the run's last epoch). Ignored in
            ``fit`` when ``y`` is indexed by (run_id, checkpoint).
        feature_set: ``"full"`` or ``"study"``.
        calibration: ``"sigmoid"``, ``"isotonic"`` or ``None`` (raw model probabilities).
        cv: calibration folds (grouped by run).
        n_estimators, random_state: passed to the tree models.
        class_weight: ``"balanced"`` (default) weighs each label's rare class up, so rare labels such as
            overfitting are not under-called (at epoch 2 it lifts final_overfitting recall on the corpus,
            benchmarks/RESULTS.md); ``None`` fits unweighted, as the study did.

    Example:
        >>> CurveDiagnoser(model="logreg").get_params()["model"]
        'logreg'
    """

    def __init__(
        self,
        model: str = "rf",
        at_epoch: int | None = None,
        feature_set: str = "full",
        calibration: str | None = "sigmoid",
        cv: int = 3,
        n_estimators: int = 200,
        random_state: int = 0,
        class_weight: str | None = "balanced",
    ) -> None:
        self.model = model
        self.at_epoch = at_epoch
        self.feature_set = feature_set
        self.calibration = calibration
        self.cv = cv
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.class_weight = class_weight

    def _features_for(self, curves: pd.DataFrame, y: pd.DataFrame) -> pd.DataFrame:
        if isinstance(y.index, pd.MultiIndex):
            epochs = sorted(set(y.index.get_level_values(1).astype(int)))
            X = featurize_checkpoints(curves, epochs, feature_set=self.feature_set)
            y_index = pd.MultiIndex.from_arrays(
                [y.index.get_level_values(0).astype(str), y.index.get_level_values(1).astype(int)],
                names=X.index.names,
            )
        else:
            X = featurize(curves, at_epoch=self.at_epoch, feature_set=self.feature_set)
            y_index = pd.Index(y.index.astype(str), name="run_id")
        missing = y_index.difference(X.index)
        if len(missing):
            raise InputError(
                f"{len(missing)} label row(s) have no curve (e.g. {list(missing[:3])}); "
                "index y by run_id (or run_id, checkpoint) of runs in the curve table"
            )
        return X.loc[y_index]

    # -- estimator API -------------------------------------------------------------------------------------
    def fit(self, curves: pd.DataFrame, y: pd.DataFrame) -> CurveDiagnoser:
        """Fit one calibrated model per label column of ``y`` (0/1)."""
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.class_weight not in CLASS_WEIGHTS:
            raise InputError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        if isinstance(y, pd.Series):
            y = y.to_frame()
        if not isinstance(y, pd.DataFrame) or y.shape[1] == 0:
            raise InputError(
                "y must be a DataFrame of 0/1 label columns indexed by run_id (or run_id, checkpoint)"
            )
        if y.isna().any().any() or not y.isin([0, 1, True, False]).all().all():
            raise InputError("y must hold only 0/1 (or bool) labels without NaN")
        X = self._features_for(curves, y)
        groups = X.index.get_level_values(0).to_numpy()
        Xv = X.to_numpy(dtype=float)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.feature_medians_ = X.median().fillna(-1.0).to_numpy(dtype=float)
        self.labels_ = list(y.columns)
        self.classes_ = [np.array([0, 1])] * len(self.labels_)
        self.estimators_: dict[str, object] = {}
        self.constant_: dict[str, int] = {}
        n_groups = len(np.unique(groups))
        for label in self.labels_:
            t = y[label].astype(int).to_numpy()
            pos_groups = len(np.unique(groups[t == 1]))
            neg_groups = len(np.unique(groups[t == 0]))
            if pos_groups == 0 or neg_groups == 0:
                self.constant_[label] = int(t[0])
                continue
            base = make_model(self.model, self.n_estimators, self.random_state, self.class_weight)
            folds = min(self.cv, pos_groups, neg_groups, n_groups)
            if self.calibration is None or folds < 2:
                est = clone(base).fit(Xv, t)
            else:
                splits = list(GroupKFold(n_splits=folds).split(Xv, t, groups))
                if any(len(np.unique(t[tr])) < 2 for tr, _ in splits):
                    est = clone(base).fit(Xv, t)
                else:
                    est = CalibratedClassifierCV(base, method=self.calibration, cv=splits, ensemble=False)
                    est.fit(Xv, t)
            self.estimators_[label] = est
        return self
