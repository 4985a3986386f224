"""onestack: the OpenStack cloud as one coherent Python project."""

__version__ = "0.1.0"
