"""traindx.landscape."""
