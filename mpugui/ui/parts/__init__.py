"""One transfer's parts: the painted part grid, the parts table model and the
panel that holds both."""
