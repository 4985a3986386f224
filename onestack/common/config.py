"""Typed configuration: one TOML file, a section per service, env overrides.

Precedence (highest first): explicit overrides passed to :func:`load_settings`, environment
variables ``ONESTACK_<KEY>`` / ``ONESTACK_<SECTION>__<KEY>``, the TOML file, defaults.
The TOML file is ``$ONESTACK_CONFIG`` if set, else ``<data_dir>/onestack.toml`` if present.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: /var/lib/onestack for root, else ~/.local/share/onestack.
DEFAULT_DATA_DIR = (
    Path("/var/lib/onestack")
    if os.geteuid() == 0
    else Path.home() / ".local" / "share" / "onestack"
)


DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]


class ImageStoreSettings(BaseModel):
    """One image store (``[image.stores.NAME]``); store types may take more options."""

    model_config = ConfigDict(extra="allow")
    type: str = Field("file", description="file, or swift (the Object Storage service)")
    description: str = ""
    path: Path | None = Field(None, description="file store directory; default DATA/images")
    weight: int = 0


class ImageSettings(BaseModel):
    """The ``[image]`` section (Glance's options under the names operators know)."""

    database_url: str | None = None
    stores: dict[str, ImageStoreSettings] = Field(
        default_factory=lambda: {"file": ImageStoreSettings()}
    )
    default_store: str = "file"
    image_size_cap: int = Field(1099511627776, ge=1, description="largest image, bytes")
    image_member_quota: int = Field(128, ge=-1)
    image_property_quota: int = Field(128, ge=-1)
    image_tag_quota: int = Field(128, ge=-1)
    #: Used when Keystone has no registered/project limit for the resource (-1: unlimited).
    default_limits: dict[str, int] = Field(default_factory=dict)
    limit_param_default: int = Field(25, ge=1)
    api_limit_max: int = Field(1000, ge=1)
    disk_formats: list[str] = Field(default_factory=lambda: list(DISK_FORMATS))
    container_formats: list[str] = Field(default_factory=lambda: list(CONTAINER_FORMATS))
    hashing_algorithm: str = "sha512"
    enabled_import_methods: list[str] = Field(
        default_factory=lambda: ["glance-direct", "web-download", "copy-image"]
    )
    staging_dir: Path | None = Field(None, description="default DATA/image-staging")
    web_download_allowed_schemes: list[str] = Field(default_factory=lambda: ["http", "https"])
    web_download_allowed_ports: list[int] = Field(default_factory=lambda: [80, 443])
    web_download_disallowed_hosts: list[str] = Field(default_factory=list)
    property_protection_file: Path | None = None
    property_protection_rule_format: str = Field("roles", pattern="^(roles|policies)$")
    policy_file: Path | None = None


class IdentitySettings(BaseModel):
    """The ``[identity]`` section (Keystone's options under the names operators know)."""

    database_url: str | None = None
    token_expiration: int = Field(3600, ge=60, description="token lifetime in seconds")
    allow_expired_window: int = Field(172800, ge=0)
    max_active_keys: int = Field(3, ge=2)
    password_hash_rounds: int = Field(12, ge=4, le=31)
    lockout_failure_attempts: int | None = Field(None, ge=1)
    lockout_duration: int = Field(1800, ge=1)
    password_regex: str | None = None
    password_regex_description: str | None = None
    unique_last_password_count: int = Field(0, ge=0)
    minimum_password_age: int = Field(0, ge=0, description="days")
    password_expires_days: int | None = Field(None, ge=1)
    list_limit: int = Field(1000, ge=1)
    max_param_size: int = 64
    policy_file: Path | None = None
    token_cache_size: int = Field(10000, ge=0)
    cache_sync_interval: float = Field(
        1.0, gt=0, description="seconds between checks for other processes' identity writes"
    )


class ObjectSettings(BaseModel):
    """The ``[object]`` section (Swift's options under the names operators know)."""

    replicas: int = Field(1, ge=1, le=16, description="replicas of the first-start rings")
    storage_policies: list[str] = Field(
        default_factory=lambda: ["Policy-0"],
        min_length=1,
        description="storage policy names, the first the default; one object ring each",
    )
    part_power: int = Field(8, ge=1, le=20, description="partition power of those rings")
    devices: Path | None = Field(
        None, description="device directories; default DATA/object/devices"
    )
    operator_roles: list[str] = Field(default_factory=lambda: ["admin", "member"])
    reader_roles: list[str] = Field(default_factory=lambda: ["reader"])
    reseller_admin_roles: list[str] = Field(default_factory=lambda: ["ResellerAdmin"])
    service_roles: list[str] = Field(default_factory=lambda: ["service"])
    #: tempauth users: "account:user" -> "key [.admin] [.reseller_admin]"
    tempauth_users: dict[str, str] = Field(default_factory=dict)
    tempurl_digests: list[str] = Field(default_factory=lambda: ["sha1", "sha256", "sha512"])
    cors_allow_origin: list[str] = Field(default_factory=list, description="for every container")
    formpost_max_body: int = Field(64 * 1024**2, ge=1024, description="largest FormPost body")
    max_file_size: int = Field(5 * 1024**3 + 2, ge=1)
    run_daemons: bool = True
    replicator_interval: float = Field(30.0, gt=0)
    auditor_interval: float = Field(60.0, gt=0)
    auditor_bytes_per_second: int = Field(10_000_000, ge=1)
    updater_interval: float = Field(30.0, gt=0)
    expirer_interval: float = Field(60.0, gt=0)


class Settings(BaseSettings):
    """Everything one onestack process needs to know."""

    model_config = SettingsConfigDict(
        env_prefix="ONESTACK_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        None, description="base URL clients use; default http://HOST:PORT"
    )
    region: str = "RegionOne"
    services: list[str] = ["identity", "image", "object"]
    remote_services: dict[str, str] = Field(
        default_factory=dict,
        description="services served by other processes: name -> their base URL, for the catalog",
    )
    run_agents: bool = Field(
        True,
        description="run the enabled services' workers in-process (always on the in-process "
        "bus, which no other process can reach)",
    )
    database_url: str | None = Field(
        None, description="default for every service; else one SQLite file per service"
    )
    admin_password: str | None = None
    service_password: str | None = Field(
        None, description="service users' password; default kept in DATA/service-password"
    )
    identity_url: str | None = Field(
        None, description="Identity endpoint for a process without it; default BASE/identity"
    )
    max_request_body: int = Field(1024 * 1024, ge=1024)
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")
    host_name: str = Field(
        default_factory=socket.gethostname, description="this host's name in RPC topics"
    )
    transport_url: str = Field(
        "memory://", description="RPC bus: memory:// (one process) or rabbit://user:pass@host/"
    )
    work_lease: float = Field(
        60.0,
        gt=0,
        description="seconds in-flight work (an upload, an import) stays owned by a process "
        "that stopped renewing it before any process reconciles it",
    )
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    image: ImageSettings = Field(default_factory=ImageSettings)
    object: ObjectSettings = Field(default_factory=ObjectSettings)

    _toml_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _TOML_FILE is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_TOML_FILE))
        return tuple(sources)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def database_url_for(self, service: str) -> str:
        """The SQLAlchemy URL of one service's database."""
        section = getattr(self, service, None)
        url = getattr(section, "database_url", None) or self.database_url
        if url:
            return url
        return f"sqlite+aiosqlite:///{self.data_dir / (service + '.sqlite')}"


_TOML_FILE: Path | None = None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings; ``overrides`` (e.g. from the command line) win over everything."""
    global _TOML_FILE
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if config_file is None and os.environ.get("ONESTACK_CONFIG"):
        config_file = Path(os.environ["ONESTACK_CONFIG"])
    if config_file is None:
        data_dir = Path(
            overrides.get("data_dir") or os.environ.get("ONESTACK_DATA_DIR") or DEFAULT_DATA_DIR
        )
        candidate = data_dir / "onestack.toml"
        config_file = candidate if candidate.is_file() else None
    _TOML_FILE = config_file
    try:
        return Settings(**overrides)
    finally:
        _TOML_FILE = None
