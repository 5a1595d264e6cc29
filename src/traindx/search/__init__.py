"""traindx.search: predict a configuration's accuracy, search with the prediction, stop runs early.

Example:
    >>> import traindx as tdx
    >>> tdx.search.PerformancePredictor().get_params()["model"]
    'forest'
"""

from traindx.search.candidates import sample_candidates, score_candidates
from traindx.search.corpus import load_corpus
from traindx.search.early_stopping import EarlyStopping
from traindx.search.features import featurize_configs, prefix_features
from traindx.search.predictor import PerformancePredictor, targets
from traindx.search.pruners import MetaPruner
from traindx.search.samplers import MetaSampler

__all__ = [
    "EarlyStopping",
    "MetaPruner",
    "MetaSampler",
    "PerformancePredictor",
    "featurize_configs",
    "load_corpus",
    "prefix_features",
    "sample_candidates",
    "score_candidates",
    "targets",
]
