"""The Image service (Glance v2): images, their data in stores, sharing, import and tasks."""
