"""traindx.monitor.callbacks."""
