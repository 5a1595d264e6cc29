"""traindx.report."""
