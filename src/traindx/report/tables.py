"""Plain tables of a diagnosis, shared by the terminal and the HTML report.

Example:
    >>> import pandas as pd
    >>> d = pd.DataFrame({"overfitting": [True], "p_overfitting": [0.9], "final_overfitting": [True],
    ...                   "p_final_overfitting": [0.8], "cause_small_train": [False],
    ...                   "p_cause_small_train": [0.1], "advice": ["add data"]}, index=["a"])
    >>> call_summary(d).loc["a"].tolist()
    ['overfitting', 'overfitting', '-', 'add data']
"""

from __future__ import annotations

import pandas as pd

#: the three label families of the default diagnoser, by the column the summary shows them in
GROUPS = {"now": "", "heading to": "final_", "likely cause": "cause_"}


def call_summary(diagnosis: pd.DataFrame) -> pd.DataFrame:
    """Per run the calls raised now, where the run is heading (``final_*``) and its likely cause (``cause_*``),
    each a comma-separated string (``-`` for none), and the advice."""
    labels = [c[2:] for c in diagnosis.columns if c.startswith("p_")]
    members = {
        "now": [lb for lb in labels if not lb.startswith(("final_", "cause_"))],
        "heading to": [lb for lb in labels if lb.startswith("final_")],
        "likely cause": [lb for lb in labels if lb.startswith("cause_")],
    }
    out = pd.DataFrame(index=diagnosis.index)
    for column, group in members.items():
        prefix = GROUPS[column]
        out[column] = [
            ", ".join(lb.removeprefix(prefix) for lb in group if bool(row[lb])) or "-"
            for _, row in diagnosis.iterrows()
        ]
    out["advice"] = diagnosis.get("advice", "")
    return out
