"""traindx.search.samplers."""
