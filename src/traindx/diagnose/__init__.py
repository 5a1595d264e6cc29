"""traindx.diagnose."""
