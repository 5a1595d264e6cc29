"""The live training monitor: :class:`Monitor`, its findings, diagnosis and indicator statuses.

Example:
    >>> from traindx.monitor import Monitor, IndicatorStatus
    >>> IndicatorStatus("plateau", "pending", None, "").name
    'plateau'
"""

from traindx.monitor.advice import ADVICE
from traindx.monitor.diagnosis import Diagnosis
from traindx.monitor.findings import Finding
from traindx.monitor.monitor import INDICATORS, Monitor
from traindx.monitor.status import IndicatorStatus

CODES: tuple[str, ...] = tuple(ADVICE)

__all__ = ["CODES", "INDICATORS", "Diagnosis", "Finding", "IndicatorStatus", "Monitor"]
