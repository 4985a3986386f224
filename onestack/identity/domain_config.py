"""Domain-specific identity configuration: the options a domain may set for its own identity
driver (Keystone's allowed groups and options), stored per domain.

onestack ships only the SQL identity driver, so a stored configuration is kept and served by
the API exactly as Keystone does, but no LDAP driver acts on it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.errors import Forbidden, NotFound
from onestack.identity import resource
from onestack.identity.models import DomainConfigOption

#: Options a domain may set, with the server-wide default each one has (Keystone's defaults).
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost",
        "user": None,
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "alias_dereferencing": "default",
        "debug_level": None,
        "chase_referrals": None,
        "user_tree_dn": None,
        "user_filter": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "user_mail_attribute": "mail",
        "user_description_attribute": "description",
        "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled",
        "user_enabled_invert": False,
        "user_enabled_mask": 0,
        "user_enabled_default": "True",
        "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None,
        "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None,
        "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [],
        "group_tree_dn": None,
        "group_filter": None,
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_members_are_ids": False,
        "group_member_attribute": "member",
        "group_desc_attribute": "description",
        "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [],
        "tls_cacertfile": None,
        "tls_cacertdir": None,
        "use_tls": False,
        "tls_req_cert": "demand",
        "use_pool": True,
        "pool_size": 10,
        "pool_retry_max": 3,
        "pool_retry_delay": 0.1,
        "pool_connection_timeout": -1,
        "pool_connection_lifetime": 600,
        "use_auth_pool": True,
        "auth_pool_size": 100,
        "auth_pool_connection_lifetime": 60,
    },
}
#: Options stored apart and never returned (they may be referenced as ``%(password)s``).
SENSITIVE: dict[str, tuple[str, ...]] = {"identity": (), "ldap": ("password",)}
#: The read-only group every user may read (from the server's own settings).
SECURITY_COMPLIANCE = "security_compliance"
READABLE_COMPLIANCE = ("password_regex", "password_regex_description")

Config = dict[str, dict[str, Any]]


def invalid(reason: str) -> Forbidden:
    return Forbidden(f"Invalid domain specific configuration: {reason}")


def not_found(domain_id: str, what: str) -> NotFound:
    return NotFound(f"Could not find {what} in domain configuration for domain {domain_id}.")


def _what(group: str | None, option: str | None) -> str:
    if option:
        return f"option {option} in group {group}"
    return f"group {group}" if group else "any options"


def check_group_option(group: str | None, option: str | None = None) -> None:
    """403 unless ``group`` (and ``option``) may be part of a domain configuration."""
    if group is None:
        return
    if group not in DEFAULTS:
        raise invalid(f"Group {group} is not supported for domain specific configurations")
    if option is not None and option not in DEFAULTS[group] and option not in SENSITIVE[group]:
        raise invalid(
            f"Option {option} in group {group} is not supported for domain specific configurations"
        )


def check_config(config: Any) -> Config:
    """A request's ``config``: a non-empty object of groups, each a non-empty object of
    supported options with JSON scalar (or list of scalars) values."""
    if not isinstance(config, dict) or not config:
        raise invalid("No options specified")
    for group, options in config.items():
        if not isinstance(options, dict) or not options:
            raise invalid(
                f"The value of group {group} specified in the config should be a dictionary "
                "of options"
            )
        for option, value in options.items():
            check_group_option(group, option)
            _check_value(group, option, value)
    return config


def _check_value(group: str, option: str, value: Any) -> None:
    scalar = (str, int, float, bool, type(None))
    ok = isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(v, scalar) for v in value)
    )
    if not ok or len(repr(value)) > 65535:
        raise invalid(
            f"The value of option {option} in group {group} must be a string, number, "
            "boolean, null or a list of those."
        )


async def _rows(
    session: AsyncSession, domain_id: str, group: str | None = None, option: str | None = None
) -> list[DomainConfigOption]:
    stmt = select(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)
    if group is not None:
        stmt = stmt.where(DomainConfigOption.group_name == group)
    if option is not None:
        stmt = stmt.where(DomainConfigOption.option_name == option)
    return list((await session.execute(stmt)).scalars())


def _as_config(rows: list[DomainConfigOption]) -> Config:
    config: Config = {}
    for row in sorted(rows, key=lambda r: (r.group_name, r.option_name)):
        if not row.sensitive:
            config.setdefault(row.group_name, {})[row.option_name] = row.value
    return config


async def get_config(
    session: AsyncSession, domain_id: str, group: str | None = None, option: str | None = None
) -> dict[str, Any]:
    """The domain's (whitelisted) config, one group, or ``{option: value}``; 404 if unset."""
    await resource.get_domain(session, domain_id)
    check_group_option(group, option)
    config = _as_config(await _rows(session, domain_id, group, option))
    if not config:
        raise not_found(domain_id, _what(group, option))
    if option is not None:
        return {option: config[group][option]}  # type: ignore[index]
    return config


async def has_config(session: AsyncSession, domain_id: str) -> bool:
    return bool(await _rows(session, domain_id))


async def _store(session: AsyncSession, domain_id: str, config: Config) -> None:
    for group, options in config.items():
        for option, value in options.items():
            row = await session.get(DomainConfigOption, (domain_id, group, option))
            if row is None:
                session.add(
                    DomainConfigOption(
                        domain_id=domain_id,
                        group_name=group,
                        option_name=option,
                        value=value,
                        sensitive=option in SENSITIVE[group],
                    )
                )
            else:
                row.value = value
    await session.flush()


async def replace_config(session: AsyncSession, domain_id: str, config: Any) -> Config:
    """Set the whole config (any previous one is replaced); the stored config."""
    await resource.get_domain(session, domain_id)
    config = check_config(config)
    await session.execute(
        delete(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)
    )
    await _store(session, domain_id, config)
    return _as_config(await _rows(session, domain_id))


async def update_config(
    session: AsyncSession,
    domain_id: str,
    config: Any,
    group: str | None = None,
    option: str | None = None,
) -> Config:
    """Merge ``config`` into the domain's; a group or option update must name just that
    group or option, and it must already be set. The whole config after the update."""
    await resource.get_domain(session, domain_id)
    check_group_option(group, option)
    if option is not None:
        if not isinstance(config, dict) or list(config) != [option]:
            raise invalid(
                f"Trying to update option {option} in group {group}, so that, and only that, "
                "option must be specified  in the config"
            )
        config = {group: config}
    config = check_config(config)
    if group is not None:
        if list(config) != [group]:
            other = next(iter(config))
            if len(config) != 1:
                raise invalid(
                    f"Trying to update group {group}, so that, and only that, group must be "
                    "specified in the config"
                )
            raise invalid(
                f"request to update group {group}, but config provided contains group "
                f"{other} instead"
            )
        if not await _rows(session, domain_id, group, option):
            raise not_found(domain_id, _what(group, option))
    await _store(session, domain_id, config)
    return _as_config(await _rows(session, domain_id))


async def delete_config(
    session: AsyncSession, domain_id: str, group: str | None = None, option: str | None = None
) -> None:
    """Delete the whole config, one group or one option (404 when not set)."""
    await resource.get_domain(session, domain_id)
    check_group_option(group, option)
    if group is not None and not await _rows(session, domain_id, group, option):
        raise not_found(domain_id, _what(group, option))
    stmt = delete(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)
    if group is not None:
        stmt = stmt.where(DomainConfigOption.group_name == group)
    if option is not None:
        stmt = stmt.where(DomainConfigOption.option_name == option)
    await session.execute(stmt)


def default_config(group: str | None = None, option: str | None = None) -> dict[str, Any]:
    """The server's defaults of the options a domain may set (sensitive ones excluded)."""
    check_group_option(group, option)
    if option is not None:
        if option in SENSITIVE[group]:  # type: ignore[index]
            raise invalid(
                f"Reading the default for option {option} in group {group} is not supported"
            )
        return {option: DEFAULTS[group][option]}  # type: ignore[index]
    if group is not None:
        return {group: dict(DEFAULTS[group])}
    return {g: dict(options) for g, options in DEFAULTS.items()}


def security_compliance(domain_id: str, settings: Any, option: str | None = None) -> dict[str, Any]:
    """The password rules users may read, for the default domain only."""
    if domain_id != resource.DEFAULT_DOMAIN_ID:
        raise invalid(
            "Reading security compliance information for any domain other than the default "
            "domain is not allowed or supported."
        )
    if option is not None and option not in READABLE_COMPLIANCE:
        raise invalid(
            "Reading security compliance values other than password_regex and "
            "password_regex_description is not allowed."
        )
    values = {name: getattr(settings, name) for name in READABLE_COMPLIANCE}
    if option is not None:
        return {option: values[option]}
    return {SECURITY_COMPLIANCE: values}
