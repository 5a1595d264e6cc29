"""From findings to a diagnosis: rank them, pick one primary finding per episode, drop contradictions.

Episodes are ranked by how close to a root cause their code is (:data:`RANK`: a bug in the training code
before a wrong setting, a setting before its symptoms). A finding whose code a higher-ranked finding of the
same episode explains (:data:`EXPLAINS`: divergence explains spikes, oscillation and dead units; a missing
``zero_grad()`` explains growing gradients and divergence) becomes that finding's symptom: its
``primary`` is False and ``caused_by`` names the root's code. Two findings belong to one episode when the
cause was first seen before the symptom was last seen (within :data:`EPISODE_GAP` steps). Codes that
cannot both be true of a run (:data:`CONFLICTS`, e.g. ``lr_too_low`` beside ``lr_too_high``, or a
``plateau`` on a diverging run) never appear together: the lower-ranked one is dropped.

Under an adaptive optimizer (:data:`ADAPTIVE`: Adam and its kin divide each parameter's step by a running
scale of its own gradient, so the step is invariant to the gradient's scale; Kingma & Ba 2015, sec. 2.1) a
small early-layer gradient does not make small early-layer steps: ``vanishing_gradients`` is then reported
last and explains no stuck loss (a BERT's first attention layer gets 1e-5 of its head's gradient by design).

Example:
    >>> from traindx.monitor.findings import Finding
    >>> fs = [Finding("loss_spike", "warning", 40, 0, "m", "a"), Finding("divergence", "critical", 30, 0, "m", "a")]
    >>> [(d.primary.code, [s.code for s in d.symptoms]) for d in diagnose(fs)]
    [('divergence', ['loss_spike'])]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from traindx.monitor.findings import Finding

#: Codes from most to least root-causal; a finding can only be explained by a higher-ranked one.
RANK: tuple[str, ...] = (
    "missing_zero_grad",
    "no_update",
    "eval_mode",
    "softmax_before_loss",
    "input_scale",
    "poor_init",
    "lr_too_high",
    "exploding_gradients",
    "nan_inf",
    "divergence",
    "saturation",
    "dead_relu",
    "vanishing_gradients",
    "lr_too_low",
    "loss_spike",
    "oscillation",
    "overfitting",
    "underfitting",
    "plateau",
    "indicator_disabled",
)

_UNSTABLE = frozenset(
    {"divergence", "exploding_gradients", "loss_spike", "oscillation", "nan_inf", "dead_relu", "saturation"}
)
_STUCK = frozenset({"plateau", "underfitting", "lr_too_low"})

#: cause -> the symptoms it explains.
EXPLAINS: dict[str, frozenset[str]] = {
    "missing_zero_grad": _UNSTABLE | _STUCK | {"lr_too_high"},
    "no_update": _STUCK | {"vanishing_gradients", "exploding_gradients"},
    "eval_mode": frozenset({"overfitting", "divergence", "loss_spike", "oscillation"}) | _STUCK,
    "softmax_before_loss": _STUCK | {"vanishing_gradients", "saturation"},
    "input_scale": _UNSTABLE | _STUCK | {"lr_too_high", "poor_init"},
    "poor_init": _UNSTABLE | _STUCK | {"vanishing_gradients"},
    "lr_too_high": _UNSTABLE | {"plateau", "underfitting"},
    "exploding_gradients": _UNSTABLE - {"exploding_gradients"} | {"plateau", "underfitting"},
    "nan_inf": _UNSTABLE - {"exploding_gradients", "nan_inf"} | {"plateau", "underfitting"},
    "divergence": _UNSTABLE - {"exploding_gradients", "nan_inf", "divergence"}
    | {"plateau", "underfitting", "overfitting"},
    "lr_too_low": frozenset({"plateau", "underfitting"}),
    "saturation": frozenset({"vanishing_gradients"}) | _STUCK,
    "dead_relu": frozenset({"vanishing_gradients"}) | _STUCK,
    "vanishing_gradients": _STUCK,
    "loss_spike": frozenset({"oscillation"}),
    "underfitting": frozenset({"plateau"}),
}

#: Optimizers whose per-parameter step is normalized by a running scale of that parameter's gradient.
ADAPTIVE: frozenset[str] = frozenset(
    {"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SparseAdam", "RMSprop", "Adagrad", "Adadelta", "Adafactor"}
)


def is_adaptive(optimizer: object) -> bool:
    """Whether ``optimizer`` (or a class it derives from) is one of :data:`ADAPTIVE`.

    Example:
        >>> import torch
        >>> p = [torch.nn.Parameter(torch.ones(1))]
        >>> is_adaptive(torch.optim.AdamW(p)), is_adaptive(torch.optim.SGD(p, lr=0.1)), is_adaptive(None)
        (True, False, False)
    """
    return optimizer is not None and any(c.__name__ in ADAPTIVE for c in type(optimizer).__mro__)


#: Pairs that cannot both describe one run; the higher-ranked code wins.
CONFLICTS: frozenset[frozenset[str]] = frozenset(
    frozenset({a, b})
    for a in ("lr_too_high", "exploding_gradients", "nan_inf", "divergence")
    for b in ("lr_too_low", "plateau", "underfitting")
) | {frozenset({"overfitting", "underfitting"})}

#: Steps a cause may come after its symptom's last sighting and still explain it (one maximal sample period
#: of the adaptive schedule, twice).
EPISODE_GAP = 400


@dataclass
class Diagnosis:
    """One episode: its primary finding and the symptoms it explains."""

    primary: Finding
    symptoms: list[Finding] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [self.primary.code] + [s.code for s in self.symptoms]


def rank(code: str) -> int:
    """Position of ``code`` in :data:`RANK` (unknown codes last)."""
    return RANK.index(code) if code in RANK else len(RANK)


def diagnose(findings: Iterable[Finding], adaptive: bool = False) -> list[Diagnosis]:
    """Group ``findings`` into episodes, most severe and most root-causal first; sets ``primary``/``caused_by``.

    Contradicted findings are left out. ``adaptive``: the run's optimizer is adaptive (module docstring).
    """

    def rank_of(code: str) -> int:
        return len(RANK) if adaptive and code == "vanishing_gradients" else rank(code)

    def explains(cause: str) -> frozenset[str]:
        return (
            frozenset() if adaptive and cause == "vanishing_gradients" else EXPLAINS.get(cause, frozenset())
        )

    ordered = sorted(findings, key=lambda f: (rank_of(f.code), f.step))
    kept: list[Finding] = []
    for f in ordered:
        if not any(frozenset({f.code, k.code}) in CONFLICTS for k in kept):
            kept.append(f)
    episodes: list[Diagnosis] = []
    for f in kept:
        root = None
        for d in episodes:
            members = [d.primary, *d.symptoms]
            if any(
                f.code in explains(m.code) and m.step <= (f.last_step or f.step) + EPISODE_GAP
                for m in members
            ):
                root = d
                break
        if root is None:
            f.primary, f.caused_by = True, None
            episodes.append(Diagnosis(f))
        else:
            f.primary, f.caused_by = False, root.primary.code
            root.symptoms.append(f)
    episodes.sort(key=lambda d: (rank_of(d.primary.code), d.primary.step))
    return episodes
