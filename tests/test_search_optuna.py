"""MetaSampler and MetaPruner inside ordinary Optuna studies, with real (tiny) trainings."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from test_search import SPACE, synthetic_corpus

from traindx.errors import InputError
from traindx.experiments.runner import run_experiment
from traindx.search import MetaPruner, MetaSampler, PerformancePredictor

optuna.logging.set_verbosity(optuna.logging.WARNING)
BASE = {"dataset": "digits", "epochs": 8, "n_train": 1000}


def test_meta_sampler_warm_start_proposes_the_corpus_optimum():
    runs, curves = synthetic_corpus(300)
    sampler = MetaSampler(runs, curves, search_space=SPACE, base=BASE, kappa=0.0, landmarkers=False, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        model = trial.suggest_categorical("model", ["logreg", "mlp_small", "mlp_large"])
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_int("batch_size", 16, 256, log=True)
        opt = trial.suggest_categorical("optimizer", ["adam", "sgd"])
        return (
            0.9
            - 0.1 * (np.log10(lr) - (-2.5 if opt == "adam" else -1.5)) ** 2
            + (model == "mlp_large") * 0.04
        )

    study.optimize(objective, n_trials=3)
    # warm-started: the very first trial already sits near the optimum the corpus shows
    first = study.trials[0].params
    assert first["model"] == "mlp_large"
    assert study.trials[0].value > 0.85
    assert sampler.predictor(study) is not None and sampler._fitted_on == 3


def test_meta_sampler_with_real_trainings_refits_as_trials_finish():
    space = {"lr": FloatDistribution(1e-3, 3e-1, log=True)}
    base = {
        "dataset": "digits",
        "model": "logreg",
        "n_train": 300,
        "val_size": 200,
        "epochs": 2,
        "eval_subset": 200,
    }
    sampler = MetaSampler(search_space=space, base=base, n_candidates=500, landmarkers=False, seed=1)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-3, 3e-1, log=True)
        out = run_experiment({**base, "lr": lr})
        return float(out["epochs"]["val_acc"].iloc[-1])

    study.optimize(objective, n_trials=4)
    assert len(study.trials) == 4 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert 0.5 < study.best_value <= 1.0
    assert sampler._fitted_on == 3  # the 4th proposal was refitted on the 3 finished trials


def test_meta_sampler_rejects_minimize_and_half_corpus():
    runs, curves = synthetic_corpus(20)
    with pytest.raises(InputError, match="both runs and curves"):
        MetaSampler(runs, None)
    sampler = MetaSampler(runs, curves, search_space=SPACE, base=BASE, landmarkers=False)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    with pytest.raises(InputError, match="maximize"):
        study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=1)


def test_meta_pruner_prunes_a_hopeless_trial_and_keeps_a_good_one():
    runs, curves = synthetic_corpus(200)
    pred = PerformancePredictor(prefix=True, n_estimators=20, landmarkers=False).fit(runs, curves)
    pruner = MetaPruner(pred, base={**BASE, "model": "mlp_large", "optimizer": "adam", "batch_size": 64})
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good = 0.1 + 0.85 * (1 - np.exp(-np.arange(1, 9) / 2))
    bad = 0.1 + 0.3 * (1 - np.exp(-np.arange(1, 9) / 2))
    curves_by_trial = [good, bad, good * 0.995]

    def objective(trial):
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        curve = curves_by_trial[trial.number]
        for epoch, acc in enumerate(curve, start=1):
            trial.report(float(acc), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve[-1])

    study.enqueue_trial({"lr": 3e-3})
    study.enqueue_trial({"lr": 1e-4})
    study.enqueue_trial({"lr": 3e-3})
    study.optimize(objective, n_trials=3)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "PRUNED", "COMPLETE"]
    assert len(study.trials[1].intermediate_values) < 8


def test_meta_pruner_bad_input():
    with pytest.raises(InputError, match="prefix"):
        MetaPruner(PerformancePredictor())
    runs, _ = synthetic_corpus(5)
    with pytest.raises(InputError, match="both runs and curves"):
        MetaPruner(runs=runs)
    with pytest.raises(InputError, match="alpha"):
        MetaPruner(alpha=1.5)


def test_meta_pruner_learns_its_bias_from_completed_trials_only():
    runs, curves = synthetic_corpus(200)
    pred = PerformancePredictor(prefix=True, n_estimators=20, landmarkers=False).fit(runs, curves)
    base = {**BASE, "model": "mlp_large", "optimizer": "adam", "batch_size": 64}
    pruner = MetaPruner(pred, base=base, prior=0.0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    # this "task" ends far lower than the corpus's runs do from the same start: the predictor is too optimistic
    flat = np.full(8, 0.3)

    def objective(trial):
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        n = 4 if trial.number == 2 else 8  # trial 2 is cut short: no target to learn from
        for epoch, acc in enumerate(flat[:n], start=1):
            trial.report(float(acc), epoch)
            trial.should_prune()
        return float(flat[:n].max())

    for _ in range(4):
        study.enqueue_trial({"lr": 3e-3})
    study.optimize(objective, n_trials=4)
    pruner._learn(study)
    assert sorted(pruner._errors) == [0, 1, 3]  # the short trial 2 is left out
    raw = pred.predict_prefix(pd.DataFrame([{**base, "lr": 3e-3}]), [flat[:2]])[0]
    assert pruner.bias(2) == pytest.approx(raw - 0.3, abs=1e-9)
    assert pruner.bias(2) > 0
    uncalibrated = MetaPruner(pred, base=base, calibrate=False)
    assert uncalibrated.bias(2) == 0.0
    cfg = {**base, "lr": 3e-3}
    assert pruner.probability_to_beat(cfg, flat[:2], 0.5) < uncalibrated.probability_to_beat(
        cfg, flat[:2], 0.5
    )


def test_meta_pruner_spread_moves_from_the_model_to_the_errors_made():
    runs, curves = synthetic_corpus(60)
    pred = PerformancePredictor(prefix=True, n_estimators=10, landmarkers=False).fit(runs, curves)
    pruner = MetaPruner(pred, prior=2.0)
    # no completed trial: the model's own std and no bias
    assert pruner.error(3, 0.05) == (0.0, pytest.approx(0.05))
    # four trials erred by exactly +0.1 from a 3-epoch prefix: bias shrinks towards 0, spread towards 0.05
    pruner._errors = {i: np.array([0.2, 0.1, 0.1]) for i in range(4)}
    bias, std = pruner.error(3, 0.05)
    assert bias == pytest.approx(0.4 / 6)
    expected = np.sqrt((4 * (0.1 - 0.4 / 6) ** 2 + 2 * 0.05**2) / 6)
    assert std == pytest.approx(expected)
    assert std < 0.05  # the task's errors agree with each other more than the forest's trees do
    # many such trials: the learnt bias approaches the error and the spread their (zero) scatter
    pruner._errors = {i: np.array([0.1, 0.1, 0.1]) for i in range(200)}
    bias, std = pruner.error(3, 0.05)
    assert bias == pytest.approx(0.1, abs=0.002) and std < 0.01
