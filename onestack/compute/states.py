"""vm_state, task_state and power_state, and the status the API shows for them (Nova's map)."""

from __future__ import annotations

from collections.abc import Collection

from onestack.common.errors import Conflict

# vm states
ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
RESCUED = "rescued"
RESIZED = "resized"
SOFT_DELETED = "soft-delete"
DELETED = "deleted"
ERROR = "error"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"

# task states
SCHEDULING = "scheduling"
SPAWNING = "spawning"
NETWORKING = "networking"
BLOCK_DEVICE_MAPPING = "block_device_mapping"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
REBUILDING = "rebuilding"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
MIGRATING = "migrating"
SHELVING = "shelving"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
IMAGE_SNAPSHOT = "image_snapshot"
UPDATING_PASSWORD = "updating_password"
DELETING = "deleting"
SOFT_DELETING = "soft-deleting"
RESTORING = "restoring"

_RESIZE_TASKS = {
    RESIZE_PREP: "RESIZE",
    RESIZE_MIGRATING: "RESIZE",
    RESIZE_FINISH: "RESIZE",
    "resize_migrated": "RESIZE",
}
_STATUS: dict[str, dict[str | None, str]] = {
    ACTIVE: {
        None: "ACTIVE",
        REBOOTING: "REBOOT",
        "reboot_pending": "REBOOT",
        "reboot_started": "REBOOT",
        REBOOTING_HARD: "HARD_REBOOT",
        "reboot_pending_hard": "HARD_REBOOT",
        "reboot_started_hard": "HARD_REBOOT",
        UPDATING_PASSWORD: "PASSWORD",
        REBUILDING: "REBUILD",
        "rebuild_block_device_mapping": "REBUILD",
        "rebuild_spawning": "REBUILD",
        MIGRATING: "MIGRATING",
        **_RESIZE_TASKS,
    },
    BUILDING: {None: "BUILD"},
    STOPPED: {None: "SHUTOFF", REBUILDING: "REBUILD", **_RESIZE_TASKS},
    RESIZED: {None: "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {None: "PAUSED", MIGRATING: "MIGRATING"},
    SUSPENDED: {None: "SUSPENDED"},
    RESCUED: {None: "RESCUE"},
    ERROR: {None: "ERROR", REBUILDING: "REBUILD"},
    DELETED: {None: "DELETED"},
    SOFT_DELETED: {None: "SOFT_DELETED"},
    SHELVED: {None: "SHELVED"},
    SHELVED_OFFLOADED: {None: "SHELVED_OFFLOADED"},
}


def status(vm_state: str, task_state: str | None) -> str:
    """The API ``status`` of a server (``UNKNOWN`` for a pair Nova does not name)."""
    table = _STATUS.get(vm_state)
    if table is None:
        return "UNKNOWN"
    return table.get(task_state, table[None])


#: status -> the vm_states it names, for ``?status=`` filters.
def vm_states_for(status_name: str) -> list[str]:
    wanted = status_name.upper()
    return [vm for vm, table in _STATUS.items() if table[None] == wanted]


def task_states_for(status_name: str) -> list[tuple[str, str]]:
    wanted = status_name.upper()
    return [
        (vm, task)
        for vm, table in _STATUS.items()
        for task, st in table.items()
        if task is not None and st == wanted
    ]


#: where a server can have interfaces and volumes attached or detached
ATTACHABLE = (ACTIVE, PAUSED, STOPPED)


def check(
    action: str,
    vm_state: str,
    task_state: str | None,
    *,
    vm_states: Collection[str],
    task_states: Collection[str | None] = (None,),
    uuid: str,
) -> None:
    """Nova's ``check_instance_state``: 409 unless the instance is in one of the states."""
    if vm_state not in vm_states:
        raise Conflict(f"Cannot '{action}' instance {uuid} while it is in vm_state {vm_state}")
    if task_state not in task_states:
        raise Conflict(f"Cannot '{action}' instance {uuid} while it is in task_state {task_state}")
