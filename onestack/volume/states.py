"""Statuses exactly as Cinder documents them, and which operations each allows."""

from __future__ import annotations

CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE = (
    "creating",
    "available",
    "reserved",
    "attaching",
    "in-use",
)
DETACHING, MAINTENANCE, DELETING, ERROR, ERROR_DELETING = (
    "detaching",
    "maintenance",
    "deleting",
    "error",
    "error_deleting",
)
BACKING_UP, RESTORING_BACKUP, ERROR_RESTORING = "backing-up", "restoring-backup", "error_restoring"
DOWNLOADING, UPLOADING, RETYPING, EXTENDING = "downloading", "uploading", "retyping", "extending"
ERROR_EXTENDING, AWAITING_TRANSFER = "error_extending", "awaiting-transfer"

VOLUME_STATUSES = frozenset(
    {
        CREATING,
        AVAILABLE,
        RESERVED,
        ATTACHING,
        IN_USE,
        DETACHING,
        MAINTENANCE,
        DELETING,
        ERROR,
        ERROR_DELETING,
        BACKING_UP,
        RESTORING_BACKUP,
        ERROR_RESTORING,
        DOWNLOADING,
        UPLOADING,
        RETYPING,
        EXTENDING,
        ERROR_EXTENDING,
        AWAITING_TRANSFER,
        "error_managing",
        "managing",
    }
)
#: Statuses a volume may be deleted from (without force).
DELETABLE = frozenset({AVAILABLE, ERROR, ERROR_RESTORING, ERROR_EXTENDING, "error_managing"})
SNAPSHOT_STATUSES = frozenset(
    {CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING, "backing-up", "restoring", "unmanaging"}
)
BACKUP_STATUSES = frozenset({CREATING, AVAILABLE, DELETING, ERROR, "restoring", ERROR_DELETING})
ATTACH_STATUSES = frozenset(
    {
        "attached",
        "attaching",
        "detached",
        "reserved",
        "detaching",
        "error_attaching",
        "error_detaching",
        "deleted",
    }
)
#: Transitional statuses the agent owns; none may stay after a crash (recovery.py).
TRANSITIONAL = frozenset(
    {CREATING, DELETING, EXTENDING, DOWNLOADING, UPLOADING, BACKING_UP, RESTORING_BACKUP}
)
