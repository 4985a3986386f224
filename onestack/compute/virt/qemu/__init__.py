"""The QEMU driver: one QEMU process per instance, controlled over QMP (KVM when usable)."""
