"""traindx.search.pruners."""
