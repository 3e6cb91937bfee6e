"""The run and action journal: who did what, when, on which ticket. Tamper-evident."""
