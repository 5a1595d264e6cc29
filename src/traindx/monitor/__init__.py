"""The live training monitor."""
