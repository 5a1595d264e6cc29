"""traindx.search."""
