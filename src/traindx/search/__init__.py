"""traindx.search: predict a configuration's accuracy, search with the prediction, stop runs early.

Example:
    >>> import traindx as tdx
    >>> tdx.search.PerformancePredictor().get_params()["model"]
    'forest'
"""

from traindx.search import knowledge
from traindx.search.candidates import sample_candidates, score_candidates
from traindx.search.corpus import corpus_parts, load_corpus
from traindx.search.early_stopping import EarlyStopping
from traindx.search.features import (
    SpaceFeaturizer,
    featurize_configs,
    prefix_features,
    task_distance,
    task_meta_features,
)
from traindx.search.predictor import PerformancePredictor, leave_task_out, targets
from traindx.search.pruners import MetaPruner
from traindx.search.samplers import MetaSampler
from traindx.search.surrogate import TransferSurrogate

__all__ = [
    "EarlyStopping",
    "MetaPruner",
    "MetaSampler",
    "PerformancePredictor",
    "SpaceFeaturizer",
    "TransferSurrogate",
    "corpus_parts",
    "featurize_configs",
    "knowledge",
    "leave_task_out",
    "load_corpus",
    "prefix_features",
    "sample_candidates",
    "score_candidates",
    "targets",
    "task_distance",
    "task_meta_features",
]
