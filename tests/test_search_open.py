"""Search in the user's own space and task: open featurization, knowledge sources, transfer weights, and the
sampler and pruner built with no arguments."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from traindx.errors import InputError
from traindx.search import (
    MetaPruner,
    MetaSampler,
    PerformancePredictor,
    SpaceFeaturizer,
    TransferSurrogate,
    featurize_configs,
    knowledge,
    leave_task_out,
    task_distance,
    task_meta_features,
)
from traindx.search.features import feature_names

optuna.logging.set_verbosity(optuna.logging.WARNING)

USER_SPACE = {
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "num_layers": IntDistribution(1, 4),
    "max_units": IntDistribution(16, 512, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "optim": CategoricalDistribution(["adam", "sgd", "lion"]),
    "label_smoothing": FloatDistribution(0.0, 0.2),
}


TASK = {"n_train": 500, "n_features": 12, "n_classes": 2, "lm_1nn": 0.8}


def user_objective(params: dict) -> float:
    """Peaks at learning_rate 1e-2, 3 layers, adam; the rest matters little."""
    lr = np.log10(params["learning_rate"])
    return float(
        0.9 - 0.05 * (lr + 2) ** 2 - 0.02 * abs(params["num_layers"] - 3) - 0.03 * (params["optim"] != "adam")
    )


def test_space_featurizer_encodes_canonical_unknown_and_categorical_names():
    f = SpaceFeaturizer(USER_SPACE).fit()
    names = f.feature_names_
    # canonical names shared with other spaces; an unknown name keeps its own feature
    assert names[:5] == ["lr", "depth", "width", "dropout", "label_smoothing"]
    # the vocabulary's optimizers first, then the space's own level
    assert [n for n in names if n.startswith("optimizer=")][-1] == "optimizer=lion"
    X = f.transform(pd.DataFrame({"lr": [1e-3], "layers": [2], "units": [63], "optimizer": ["lion"]}))
    row = dict(zip(names, X[0], strict=True))
    assert row["lr"] == pytest.approx(-3.0, abs=1e-4)  # log10: the distribution is log
    assert row["depth"] == 2.0 and row["width"] == pytest.approx(6.0)  # log2(1 + units)
    assert row["optimizer=lion"] == 1.0 and row["optimizer=adam"] == 0.0
    assert np.isnan(row["dropout"])  # a parameter the table lacks is missing, not a made-up default


def test_space_featurizer_learns_encodings_from_tables():
    table = pd.DataFrame({"gamma": [1e-4, 1e-1, 1.0], "kernel": ["rbf", "poly", "rbf"], "c": [1, 2, 3]})
    f = SpaceFeaturizer().fit(table)
    assert f.numeric_ == {"gamma": "log10", "c": "linear"}  # gamma spans four decades
    assert f.levels_ == {"kernel": ["rbf", "poly"]}
    with pytest.raises(InputError, match="not fitted"):
        SpaceFeaturizer().transform(table)


def test_featurize_configs_reads_synonyms_and_takes_unknown_tasks():
    X = featurize_configs(pd.DataFrame({"dataset": ["no_such_task"], "learning_rate": [0.05]}))
    names = feature_names()
    assert X[0, names.index("log_lr")] == pytest.approx(np.log10(0.05))
    assert np.isnan(X[0, names.index("lm_1nn")])  # unknown task: missing meta-features, not an error


def test_task_meta_features_and_distance():
    assert task_meta_features("no_such_task") == {}
    mf = task_meta_features("moons")
    assert mf["n_classes"] == 2 and task_distance(mf, mf) == 0.0
    assert task_distance(mf, task_meta_features("mnist")) > 1.0  # 2 vs 10 classes, 2 vs 784 inputs
    assert np.isnan(task_distance({}, mf))


def test_knowledge_from_studies_storages_and_the_shipped_corpus(tmp_path):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(storage=storage, study_name="old", direction="minimize")
    study.set_user_attr("task", "moons")
    for lr in (1e-3, 1e-2, 1e-1):
        study.enqueue_trial({"learning_rate": lr})
    study.optimize(lambda t: t.suggest_float("learning_rate", 1e-4, 1, log=True), n_trials=3)
    (s,) = knowledge.gather(storage)
    assert s.name == "moons" and list(s.configs.columns) == ["lr"]
    assert s.value.tolist() == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3)]  # minimised: small lr best
    shipped = knowledge.gather("shipped")
    assert len(shipped) >= 40 and {"mnist", "pima", "moons"} <= {x.name for x in shipped}  # many-task corpus
    pima = next(x for x in shipped if x.name == "pima")
    # the corpus's settings under canonical names, the effective learning rate (lr x lr_scale) among them
    assert {"lr", "weight_decay", "dropout", "width", "optimizer"} <= set(pima.configs.columns)
    assert pima.configs["lr"].nunique() == 5 and pima.meta["n_classes"] == 2  # stored meta-features
    assert "pima" not in {x.name for x in knowledge.shipped(exclude=("pima",))}
    with pytest.raises(InputError, match="cannot read knowledge"):
        knowledge.gather(3.5)


def _source(name: str, sign: float, seed: int) -> knowledge.Source:
    rng = np.random.default_rng(seed)
    configs = pd.DataFrame(
        {
            "lr": 10 ** rng.uniform(-4, -1, 80),
            "depth": rng.integers(1, 5, 80),
            "optimizer": rng.choice(["adam", "sgd"], 80),
        }
    )
    params = configs.rename(columns={"lr": "learning_rate", "depth": "num_layers", "optimizer": "optim"})
    y = np.array([sign * user_objective(p) for p in params.to_dict("records")])
    return knowledge.Source(name, configs, pd.Series(y).rank(pct=True).to_numpy(), meta=dict(TASK))


def test_transfer_weights_follow_ranking_agreement():
    good, bad = _source("alike", 1.0, 0), _source("opposite", -1.0, 1)
    s = TransferSurrogate(USER_SPACE, [good, bad], task=TASK, n_estimators=10)
    # same meta-features (similarity 1) before any trial, times the share of the space's 6 parameters the
    # sources vary (3)
    assert s.trust_ == 0.5
    assert s.has_knowledge and {m.name for m in s.members} == {"alike", "opposite"}
    rng = np.random.default_rng(2)
    trials = pd.DataFrame(
        {
            "learning_rate": 10 ** rng.uniform(-4, -1, 8),
            "num_layers": rng.integers(1, 5, 8),
            "max_units": 64,
            "dropout": 0.1,
            "optim": rng.choice(["adam", "sgd"], 8),
            "label_smoothing": 0.0,
        }
    )
    s.fit(trials, [user_objective(p) for p in trials.to_dict("records")])
    # agreement shrunk towards the prior: the opposite source keeps only its 3 pseudo-trials' share
    assert s.weights_["alike"] > 0.6 and s.weights_["opposite"] == pytest.approx(3 * 0.5 / 11)


def test_trust_falls_to_the_prior_share_when_the_knowledge_ranks_the_trials_wrongly():
    s = TransferSurrogate(USER_SPACE, [_source("opposite", -1.0, 1)], task=TASK, n_estimators=10)
    prior = s.trust_
    rng = np.random.default_rng(3)
    trials = pd.DataFrame(
        {
            "learning_rate": 10 ** rng.uniform(-4, -1, 12),
            "num_layers": rng.integers(1, 5, 12),
            "max_units": 64,
            "dropout": 0.1,
            "optim": rng.choice(["adam", "sgd"], 12),
            "label_smoothing": 0.0,
        }
    )
    s.fit(trials, [user_objective(p) for p in trials.to_dict("records")])
    # the knowledge ranks the 12 trials backwards: only the prior's 3 pseudo-trials keep any trust, and the
    # study's own forest, which ranks them well out of bag, outweighs it
    assert s.trust_ == pytest.approx(3 * prior / 15)
    assert s.weights_["own"] > s.trust_


def _trials(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "learning_rate": 10 ** rng.uniform(-4, -1, n),
            "num_layers": rng.integers(1, 5, n),
            "max_units": 64,
            "dropout": 0.1,
            "optim": rng.choice(["adam", "sgd"], n),
            "label_smoothing": 0.0,
        }
    )


def _objective_peaked_high(params: dict) -> float:
    """Like ``user_objective`` for small learning rates, but the best region is at 1e-1, where a source
    trained on ``user_objective`` expects a loss: right on the bulk of trials, wrong about the best ones."""
    lr = np.log10(params["learning_rate"])
    return float(0.5 + 0.1 * min(lr + 4, 2) + (0.3 if lr > -1.5 else 0.0))


def test_knowledge_earns_trust_only_by_ordering_the_better_trials():
    trials = _trials(40, 5)
    good = TransferSurrogate(USER_SPACE, [_source("alike", 1.0, 0)], task=TASK, n_estimators=30)
    good.fit(trials, [user_objective(p) for p in trials.to_dict("records")])
    assert good.earned_ > 0.3
    # the source ranks most of these trials right (too small a learning rate is bad) but not the best ones:
    # its trust stays well above zero, yet it earns nothing a sampler acts on
    misled = TransferSurrogate(USER_SPACE, [_source("alike", 1.0, 0)], task=TASK, n_estimators=30)
    misled.fit(trials, [_objective_peaked_high(p) for p in trials.to_dict("records")])
    assert misled.trust_ > 0.3 and misled.earned_ == 0.0
    # the source varies 3 of the space's 6 parameters: mapped in part; in a space of those 3 it covers it all
    assert not good.covers_space
    small = {k: USER_SPACE[k] for k in ("learning_rate", "num_layers", "optim")}
    full = TransferSurrogate(small, [_source("alike", 1.0, 0)], task=TASK, n_estimators=10)
    assert full.fit(trials[list(small)], [0.0] * 39 + [1.0]).covers_space
    # too few trials for chance to be ruled out: nothing earned, however well they agree
    few = TransferSurrogate(USER_SPACE, [_source("alike", 1.0, 0)], task=TASK, n_estimators=30)
    few.fit(trials.iloc[:4], [user_objective(p) for p in trials.iloc[:4].to_dict("records")])
    assert few.earned_ == 0.0


def test_meta_sampler_stops_following_knowledge_it_has_not_earned():
    sampler = MetaSampler(
        search_space=USER_SPACE, knowledge=[_source("opposite", -1.0, 1)], task=TASK, seed=0
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    # mapped in part (3 of the 6 parameters): before any trial its prior trust (0.5) does not steer proposals
    first = sampler.predictor(study, USER_SPACE)
    assert first.trust_ == 0.5 and sampler._earned_probability(first, 0) == 0.0
    study.optimize(lambda t: user_objective(_suggest(t)), n_trials=12)
    surrogate = sampler.predictor(study, USER_SPACE)
    # backwards knowledge keeps some trust by its prior, but a sampler never follows it
    assert surrogate.trust_ > 0 and sampler._earned_probability(surrogate, 12) == 0.0
    # knowledge that never earns a say leaves exactly the proposals of the sampler without knowledge
    alone = MetaSampler(search_space=USER_SPACE, knowledge=[], task=TASK, seed=0)
    study_alone = optuna.create_study(direction="maximize", sampler=alone)
    study_alone.optimize(lambda t: user_objective(_suggest(t)), n_trials=12)
    assert [t.params for t in study.trials] == [t.params for t in study_alone.trials]


def test_meta_sampler_never_proposes_a_configuration_twice():
    space = {
        "optimizer": CategoricalDistribution(["adam", "sgd"]),
        "lr": CategoricalDistribution([1e-3, 1e-2, 1e-1]),
    }
    configs = pd.DataFrame({"optimizer": ["adam", "sgd"] * 15, "lr": [1e-3, 1e-2, 1e-1] * 10})
    ranks = np.where(configs["optimizer"] == "adam", 0.5, 0.0) + np.log10(configs["lr"]).to_numpy() / -6
    src = knowledge.Source("k", configs, ranks, meta=dict(TASK))  # prefers adam, lr 1e-3, strongly
    sampler = MetaSampler(
        search_space=space, knowledge=[src], task=TASK, n_startup_trials=0, random_fraction=0.0, seed=0
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(
        lambda t: -t.suggest_categorical("lr", [1e-3, 1e-2, 1e-1]) * (t.suggest_categorical(
            "optimizer", ["adam", "sgd"]) == "sgd"),
        n_trials=6,
    )  # fmt: skip
    tried = [(t.params["optimizer"], t.params["lr"]) for t in study.trials]
    assert tried[0] == ("adam", 1e-3) and len(set(tried)) == 6


def test_meta_sampler_warm_started_from_another_space_finds_the_optimum_first():
    # the user's earlier study on another task spelled the parameters differently (lr, depth, optimizer)
    # (both tasks described by the same meta-features: the source is fully trusted from the first trial)
    sampler = MetaSampler(search_space=USER_SPACE, knowledge=[_source("alike", 1.0, 0)], task=TASK, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: user_objective(_suggest(t)), n_trials=2)
    assert study.trials[0].value > 0.85  # the first proposal already uses the other study's ranking


def test_meta_sampler_without_knowledge_explores_then_exploits():
    values = {}
    for name, sampler in [
        (
            "meta",
            MetaSampler(search_space=USER_SPACE, knowledge=[], n_candidates=2000, n_estimators=10, seed=0),
        ),
        ("random", optuna.samplers.RandomSampler(seed=0)),
    ]:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(lambda t: user_objective(_suggest(t)), n_trials=25)
        values[name] = [t.value for t in study.trials]
    # the first n_startup_trials are random draws; what follows exploits them
    assert sampler_startup_is_random(values["meta"][:10])
    assert np.mean(values["meta"][15:]) > np.mean(values["random"][15:])


def sampler_startup_is_random(values: list[float]) -> bool:
    return len(set(np.round(values, 6))) == len(values)


def _suggest(trial) -> dict:
    out = {}
    for name, dist in USER_SPACE.items():
        if isinstance(dist, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            out[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
        else:
            out[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    return out


def test_meta_sampler_and_pruner_build_with_no_arguments():
    sampler, pruner = MetaSampler(), MetaPruner(n_warmup_steps=2)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        good = trial.number == 0
        for epoch in range(1, 9):
            trial.report(0.9 + 0.01 * epoch / 8 if good else 0.15, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned
        return 0.91 if good else 0.15 + lr

    study.optimize(objective, n_trials=2)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    assert len(sampler.sources()) >= 2  # the shipped corpus, one source per task


def test_leave_task_out_reports_rank_agreement_and_coverage():
    from test_search import synthetic_corpus

    parts = [synthetic_corpus(40, seed=s) for s in range(3)]
    runs = pd.concat(
        [p[0].assign(dataset=d) for p, d in zip(parts, ["digits", "moons", "circles"], strict=True)]
    )
    curves = pd.concat([p[1] for p in parts])
    table = leave_task_out(runs, curves, PerformancePredictor(n_estimators=10, landmarkers=False))
    assert list(table["task"]) == ["circles", "digits", "moons"]
    # the three tasks share their optimum: held out, each is ranked well by the other two
    # (the curves stop before every run has converged, so the ranking is good, not perfect)
    assert table["spearman"].median() > 0.5
    assert ((table["coverage"] >= 0) & (table["coverage"] <= 1)).all()
    with pytest.raises(InputError, match="at least 2 tasks"):
        leave_task_out(parts[0][0].assign(dataset="digits"), parts[0][1])
