"""traindx.curves."""
