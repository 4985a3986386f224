"""Compute's metadata API (Nova's nova-api-metadata), mounted at ``/compute-metadata``."""

#: where the all-in-one server (and ``onestack serve compute``) mounts the metadata API;
#: Networking's metadata proxy forwards to ``BASE_URL + PREFIX``
PREFIX = "/compute-metadata"
