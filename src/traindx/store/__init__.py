"""traindx.store."""
