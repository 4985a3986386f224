"""The conductor: drives builds and moves between the scheduler and the compute agents."""
