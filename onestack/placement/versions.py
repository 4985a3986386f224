"""The microversions Placement serves (1.0 to 1.39) and the 406 message it gives."""

from __future__ import annotations

from onestack.common.microversions import MicroversionSpec


def _unacceptable(requested: str, spec: MicroversionSpec) -> str:
    return (
        f"Unacceptable version header: {requested}. Minimum is {spec.min_version}, maximum "
        f"is {spec.max_version}."
    )


SPEC = MicroversionSpec("placement", "1.0", "1.39", not_acceptable_message=_unacceptable)
