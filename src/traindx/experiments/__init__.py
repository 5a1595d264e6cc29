"""traindx.experiments."""
