"""Machinery every onestack service shares, written once."""
