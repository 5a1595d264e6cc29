"""Former home of the monitor, kept so that ``traindx.monitor.core`` imports keep working.

Example:
    >>> from traindx.monitor.core import Monitor
    >>> Monitor.__module__
    'traindx.monitor.monitor'
"""

from traindx.monitor.monitor import INDICATORS, Monitor

__all__ = ["INDICATORS", "Monitor"]
