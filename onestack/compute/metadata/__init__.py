"""Compute's metadata API (Nova's nova-api-metadata), mounted at ``/compute-metadata``
(:data:`onestack.common.metadata_proxy.PREFIX`) by the process that serves Compute."""
