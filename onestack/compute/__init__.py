"""Nova v2.1: the Compute service."""
