"""The scheduler: Placement candidates, then filters and weighers, then a claim."""
