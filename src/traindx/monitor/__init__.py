"""The live training monitor: :class:`Monitor`, its findings and indicator statuses.

Example:
    >>> from traindx.monitor import Monitor, IndicatorStatus
    >>> IndicatorStatus("plateau", "pending", None, "").name
    'plateau'
"""

from traindx.monitor.core import INDICATORS, Monitor
from traindx.monitor.findings import CODES, Finding
from traindx.monitor.status import IndicatorStatus

__all__ = ["CODES", "INDICATORS", "Finding", "IndicatorStatus", "Monitor"]
