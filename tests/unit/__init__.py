"""Unit tests: one module or rule at a time, no server (the import layers, the
adaptive controller, units, part bodies, the leak guard itself)."""
