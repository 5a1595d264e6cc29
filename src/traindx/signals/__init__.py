"""Pure functions that turn training quantities into health signals, one module per family."""
