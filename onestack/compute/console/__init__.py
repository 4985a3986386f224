"""Console proxies: nova-novncproxy and nova-serialproxy."""
