"""Object Storage (Swift v1)."""
