"""traindx.store.importers."""
