"""traindx.report: what people look at — the terminal demo and the HTML page of diagnosed learning curves.

Example:
    >>> from traindx.report import curves_report
    >>> curves_report.__name__
    'curves_report'
"""

from traindx.report.html import curves_report
from traindx.report.signals import signals_report

__all__ = ["curves_report", "signals_report"]
