"""traindx.experiments.backends."""
