"""Writers: send the monitor's indicator values and findings to TensorBoard, MLflow or W&B.

Example:
    >>> from traindx.monitor.writers import WRITERS, Writer
    >>> "tensorboard" in WRITERS and issubclass(Writer, object)
    True
"""

from traindx.monitor.writers.base import Writer, WriterSet
from traindx.monitor.writers.registry import WRITERS, make_writer

__all__ = ["WRITERS", "Writer", "WriterSet", "make_writer"]
