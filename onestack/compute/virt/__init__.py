"""Virt drivers: the only code that touches a hypervisor. ``fake`` simulates hosts."""
