"""The one place for names shared across packages: modalities, model families, optimizers, schedules,
activations, normalizations, test-time shifts and canonical hyperparameter names with their synonyms.

The runner, the models, the task layer and the search featurizer all read these tuples, so a name added here
is known everywhere and two packages can never disagree on a default.

Example:
    >>> from traindx.experiments import vocabulary as V
    >>> V.ARCH_DEFAULTS["cnn_large"]
    (16, 2)
    >>> V.canonical_param("learning_rate")
    'lr'
"""

from __future__ import annotations

MODALITIES = ("tabular", "image", "text", "timeseries")

# model family -> (width, depth) defaults; sized so a 26-epoch run on a few thousand examples takes seconds on
# one CPU thread. MLPs: hidden units and hidden layers; CNNs: channels of the last block and conv blocks;
# resnet: channels of the first stage and residual blocks; text models and the GRU: embedding / hidden size
# and layers.
ARCH_DEFAULTS: dict[str, tuple[int, int]] = {
    "logreg": (0, 0),
    "mlp_small": (32, 1),
    "mlp_large": (256, 2),
    "mlp": (64, 2),
    "cnn_small": (8, 2),
    "cnn_large": (16, 2),
    "cnn": (8, 2),
    "resnet": (8, 2),
    "gru": (32, 1),
    "embbag": (32, 1),
    "textcnn": (32, 1),
}
MODELS = tuple(ARCH_DEFAULTS)
# the models that read token ids (text); all others read float arrays
TOKEN_MODELS = ("embbag", "textcnn", "gru")
# which families suit which modality (the runner refuses the others with this table in the message)
MODELS_BY_MODALITY: dict[str, tuple[str, ...]] = {
    "tabular": ("logreg", "mlp_small", "mlp_large", "mlp"),
    "image": ("logreg", "mlp_small", "mlp_large", "mlp", "cnn_small", "cnn_large", "cnn", "resnet"),
    "text": ("embbag", "textcnn", "gru"),
    "timeseries": ("logreg", "mlp_small", "mlp_large", "mlp", "cnn_small", "cnn_large", "cnn", "gru"),
}
# capacity levels as width multipliers of a family's default width (depth unchanged): a design that names a
# capacity level varies model size the same way in every modality
CAPACITY = {"tiny": 0.0625, "small": 0.25, "medium": 1.0, "large": 4.0}

OPTIMIZERS = ("adam", "sgd", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu")
NORMS = ("none", "batch", "layer")

# test-time shifts and their default strength. Images (inputs in [0, 1]): Gaussian noise std 0.3 (visible but
# legible), full inversion, Gaussian blur sigma 1 pixel, rotation 30 degrees, contrast scaled towards mid-grey
# by 0.6. Tables (standardised features): noise std in feature standard deviations, scale multiplies a random
# half of the features by (1 + s), missing sets a fraction s of the entries to the training mean,
# subpopulation keeps the test examples on one side of a random hyperplane (s unused). Text: word_dropout
# deletes a fraction s of the tokens, typos makes a fraction s of them out-of-vocabulary. Time series: noise
# std in series standard deviations, warp resamples time by a smooth random map of amplitude s (fraction of
# the length), offset adds s standard deviations.
SHIFT_DEFAULTS: dict[str, float] = {
    "none": 0.0,
    "noise": 0.3,
    "invert": 1.0,
    "blur": 1.0,
    "rotate": 30.0,
    "contrast": 0.6,
    "scale": 1.0,
    "missing": 0.3,
    "subpopulation": 0.0,
    "word_dropout": 0.3,
    "typos": 0.3,
    "warp": 0.1,
    "offset": 1.0,
}
SHIFTS = tuple(SHIFT_DEFAULTS)
SHIFTS_BY_MODALITY: dict[str, tuple[str, ...]] = {
    "tabular": ("none", "noise", "scale", "missing", "subpopulation"),
    "image": ("none", "noise", "invert", "blur", "rotate", "contrast"),
    "text": ("none", "word_dropout", "typos"),
    "timeseries": ("none", "noise", "blur", "warp", "offset"),
}

# canonical hyperparameter names and the spellings other tools use for them (Optuna studies, Keras, HF)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "lr": ("learning_rate", "learningrate", "eta", "step_size"),
    "batch_size": ("batchsize", "batch", "bs", "per_device_train_batch_size"),
    "weight_decay": ("wd", "l2", "weightdecay", "decay"),
    "depth": ("num_layers", "n_layers", "layers", "n_hidden_layers"),
    "width": ("max_units", "units", "hidden", "hidden_size", "n_units", "hidden_dim", "channels"),
    "dropout": ("max_dropout", "dropout_rate", "drop_rate", "p_dropout"),
    "epochs": ("num_epochs", "n_epochs", "num_train_epochs", "max_epochs"),
    "momentum": ("beta1",),
    "optimizer": ("optim", "opt", "optimizer_name"),
    "activation": ("act", "activation_fn", "nonlinearity"),
    "warmup": ("warmup_steps", "warmup_epochs", "warmup_ratio", "warmup_frac"),
    "dataset": ("task", "data"),
}
_LOOKUP = {syn: canon for canon, syns in SYNONYMS.items() for syn in syns}


def canonical_param(name: str) -> str:
    """The canonical name of a hyperparameter spelled ``name`` (unchanged when it has no synonym).

    Example:
        >>> canonical_param("num_layers"), canonical_param("seed")
        ('depth', 'seed')
    """
    key = name.strip().lower().replace("-", "_")
    return _LOOKUP.get(key, key if key in SYNONYMS else name)
