"""Identity service: Keystone v3."""
