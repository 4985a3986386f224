"""Backups: volume data as compressed chunks in a directory (posix) or in the Object Storage
service (swift), incremental by chunk hashes."""
