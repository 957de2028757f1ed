"""The transfer queue: its model (applies the engine's deltas), view (repaints
only the visible rows), cell and progress delegates (the state colours), and
turning dropped paths into transfers (adder)."""
