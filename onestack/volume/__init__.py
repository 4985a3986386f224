"""Block Storage (Cinder v3): volumes, snapshots, types, QoS, quotas, backups, transfers."""
