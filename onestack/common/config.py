"""Typed configuration: one TOML file, a section per service, env overrides.

Precedence (highest first): explicit overrides passed to :func:`load_settings`, environment
variables ``ONESTACK_<KEY>`` / ``ONESTACK_<SECTION>__<KEY>``, the TOML file, defaults.
The TOML file is ``$ONESTACK_CONFIG`` if set, else ``<data_dir>/onestack.toml`` if present.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic import ValidationError as SettingsValidationError
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


#: What a database URL's scheme (``dialect[+driver]``) means: the async driver onestack ships.
_ASYNC_SCHEMES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
    "mysql+pymysql": "mysql+aiomysql",
    "mysql+mysqldb": "mysql+aiomysql",
    "mysql+mysqlconnector": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
    "mariadb+aiomysql": "mariadb+aiomysql",
    "mariadb+pymysql": "mariadb+aiomysql",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def async_database_url(url: str) -> str:
    """A database URL as users write it (``postgresql://``, ``postgres://``, ``mysql://``,
    ``mysql+pymysql://``, ``sqlite:///``) with the async driver onestack ships (asyncpg,
    aiomysql, aiosqlite); ValueError naming what is supported for any other."""
    scheme, sep, rest = url.partition("://")
    target = _ASYNC_SCHEMES.get(scheme.lower()) if sep else None
    if target is None:
        raise ValueError(
            f"unsupported database URL {url.split('@')[-1]!r}: use postgresql://, mysql:// "
            "(or mariadb://) or sqlite:///PATH"
        )
    if target.startswith("postgresql") and "sslmode=" in rest:
        rest = rest.replace("sslmode=", "ssl=")  # libpq's name; asyncpg calls it ssl
    return f"{target}://{rest}"


def _optional_async_url(url: str | None) -> str | None:
    return async_database_url(url) if url else url


#: A database URL setting: accepted as users write it, kept with its async driver.
DatabaseURL = Annotated[str | None, AfterValidator(_optional_async_url)]


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

    database_url: DatabaseURL = None
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
    do_secure_hash: bool = Field(
        True, description="hash the data of a location a service adds (Image API 2.17)"
    )
    enabled_import_methods: list[str] = Field(
        default_factory=lambda: ["glance-direct", "web-download", "copy-image"]
    )
    glance_download_properties: list[str] = Field(
        default_factory=lambda: ["hw_*", "trait:*", "os_distro", "os_secure_boot", "os_type"],
        description="properties (glob patterns) a glance-download import copies",
    )
    staging_dir: Path | None = Field(None, description="default DATA/image-staging")
    web_download_allowed_schemes: list[str] = Field(default_factory=lambda: ["http", "https"])
    web_download_allowed_ports: list[int] = Field(default_factory=lambda: [80, 443])
    web_download_disallowed_hosts: list[str] = Field(default_factory=list)
    property_protection_file: Path | None = None
    property_protection_rule_format: str = Field("roles", pattern="^(roles|policies)$")
    policy_file: Path | None = None
    image_cache_enabled: bool | None = Field(
        None, description="the local image cache and /v2/cache (default: on with a remote store)"
    )
    image_cache_dir: Path | None = Field(None, description="default DATA/image-cache")
    image_cache_max_size: int = Field(10737418240, ge=0, description="bytes the pruner keeps")
    cache_prefetcher_interval: float = Field(
        300.0, gt=0, description="seconds between runs of the prefetcher of queued images"
    )


class ComputeSettings(BaseModel):
    """The ``[compute]`` section (Nova's options under the names operators know)."""

    database_url: str | None = None
    policy_file: Path | None = None
    enforce_new_defaults: bool = Field(
        True, description="false: Nova's deprecated admin_or_owner rules also allow"
    )
    enforce_scope: bool = Field(False, description="true: system-scoped tokens get 403")
    virt_driver: str = Field(
        "auto",
        pattern="^(auto|qemu|fake)$",
        description="qemu (real guests), fake (simulated hosts); auto: qemu where "
        "qemu-system-x86_64 is installed, else fake",
    )
    instances_path: Path | None = Field(None, description="guests' files (DATA/instances)")
    accel: str = Field(
        "auto", pattern="^(auto|kvm|tcg)$", description="auto: KVM if a probe guest boots"
    )
    force_config_drive: bool = False
    shutdown_timeout: float = Field(60.0, ge=0, description="s a guest has to power off (ACPI)")
    remove_unused_original_minimum_age_seconds: float = Field(86400.0, ge=0)
    tiny_image: bool = Field(
        True, description="build and register onestack-tiny at first start (qemu driver)"
    )
    fake_hosts: int = Field(1, ge=1, description="hosts the in-process fake agent simulates")
    fake_vcpus: int = Field(16, ge=1)
    fake_memory_mb: int = Field(32768, ge=1)
    fake_local_gb: int = Field(1000, ge=1)
    fake_delay: float = Field(0.0, ge=0, description="seconds each fake hypervisor call takes")
    fake_live_migration_time: float = Field(
        0.0, ge=0, description="seconds a fake live migration runs (to abort or force it)"
    )
    fake_fail_hosts: list[str] = Field(
        default_factory=list, description="fake hosts on which every build fails (tests)"
    )
    cpu_allocation_ratio: float = Field(16.0, gt=0)
    ram_allocation_ratio: float = Field(1.5, gt=0)
    disk_allocation_ratio: float = Field(1.0, gt=0)
    reserved_host_memory_mb: int = Field(512, ge=0)
    reserved_host_disk_mb: int = Field(0, ge=0)
    reserved_host_cpus: int = Field(0, ge=0)
    max_attempts: int = Field(3, ge=1, description="builds tried per instance (reschedules+1)")
    host_subset_size: int = Field(1, ge=1)
    max_placement_results: int = Field(1000, ge=1)
    enabled_filters: list[str] = Field(
        default_factory=lambda: [
            "ComputeFilter",
            "AvailabilityZoneFilter",
            "ComputeCapabilitiesFilter",
            "ImagePropertiesFilter",
            "ServerGroupAntiAffinityFilter",
            "ServerGroupAffinityFilter",
            "SameHostFilter",
            "DifferentHostFilter",
            "AggregateInstanceExtraSpecsFilter",
        ]
    )
    weight_multipliers: dict[str, float] = Field(
        default_factory=lambda: {
            "ram": 1.0,
            "cpu": 1.0,
            "disk": 1.0,
            "io_ops": -1.0,
            "soft_affinity": 1.0,
            "soft_anti_affinity": 1.0,
        }
    )
    service_down_time: float = Field(60.0, gt=0)
    report_interval: float = Field(10.0, gt=0)
    default_availability_zone: str = "nova"
    internal_service_availability_zone: str = "internal"
    enable_instance_password: bool = True
    metadata_service_proxy: bool = Field(
        True,
        description="the metadata API names the instance by the proxy's signed X-Instance-ID "
        "(Nova's [neutron] service_metadata_proxy); false: by the caller's fixed IP",
    )
    metadata_use_forwarded_for: bool = Field(
        False, description="without the proxy: the fixed IP is X-Forwarded-For's, not the peer's"
    )
    vif_plugging_timeout: float = Field(
        300.0, ge=0, description="seconds a build waits for network-vif-plugged (0: no wait)"
    )
    vif_plugging_is_fatal: bool = Field(True, description="a vif plug timeout fails the build")
    reclaim_instance_interval: int = Field(0, ge=0, description="soft delete when > 0 (s)")
    instance_usage_audit: bool = Field(
        False, description="each host audits its instances' usage once per period"
    )
    instance_usage_audit_period: str = Field("month", pattern="^(hour|day|month|year)$")
    console_token_ttl: int = Field(600, ge=1, description="s a remote console's token lives")
    console_base_urls: dict[str, str] = Field(
        default_factory=lambda: {
            "spice-html5": "http://127.0.0.1:6082/spice_auto.html",
            "rdp-html5": "http://127.0.0.1:6083/",
            "webmks": "http://127.0.0.1:6090/",
        },
        description="the console proxies' base URLs by console type (Nova's *_base_url); "
        "novnc and serial default to the proxies below",
    )
    console_proxies: bool = Field(
        True,
        description="run the noVNC and serial console proxies (agents novncproxy, "
        "serialproxy) with the cloud",
    )
    novncproxy_host: str = "127.0.0.1"
    novncproxy_port: int = Field(6080, ge=0, le=65535, description="nova-novncproxy's port")
    serialproxy_host: str = "127.0.0.1"
    serialproxy_port: int = Field(6083, ge=0, le=65535, description="nova-serialproxy's port")
    novnc_path: Path = Field(Path("/usr/share/novnc"), description="noVNC's files (Debian's)")
    console_allowed_origins: list[str] = Field(
        default_factory=list,
        description="host names a console's web page may come from besides the proxy's own",
    )
    shelved_offload_time: int = Field(
        0, ge=-1, description="s a shelved server keeps its host: 0 offloads at once, -1 never"
    )
    max_limit: int = Field(1000, ge=1)
    quota_driver: str = Field(
        "db", pattern="^(db|unified)$", description="unified: Keystone's limits where set"
    )
    default_quotas: dict[str, int] = Field(
        default_factory=lambda: {
            "instances": 10,
            "cores": 20,
            "ram": 51200,
            "key_pairs": 100,
            "server_groups": 10,
            "server_group_members": 10,
            "metadata_items": 128,
            "injected_files": 5,
            "injected_file_content_bytes": 10240,
            "injected_file_path_bytes": 255,
        }
    )


class IdentitySettings(BaseModel):
    """The ``[identity]`` section (Keystone's options under the names operators know)."""

    database_url: DatabaseURL = None
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
    admin_scope: str = Field(
        "any-project",
        pattern="^(any-project|admin-project)$",
        description="who the cloud admin is: the admin role on the system or on any project "
        "(any-project, Keystone's effective default), or on the system or the admin project "
        "only (admin-project)",
    )
    # OS-OAUTH1 (Keystone's [oauth1]); 0: never expire
    oauth1_request_token_duration: int = Field(28800, ge=0, description="seconds")
    oauth1_access_token_duration: int = Field(86400, ge=0, description="seconds")
    # OS-FEDERATION: the front ends (IPs or networks) whose assertion headers are trusted;
    # none by default, so no client can claim a federated identity until one is named
    federation_trusted_proxies: list[str] = []
    federation_assertion_prefix: str = Field(
        "", description="only headers starting with this are assertion attributes (names kept)"
    )
    federation_remote_id_attribute: str | None = Field(
        None, description="assertion attribute naming the identity provider (default for all)"
    )
    federation_trusted_dashboards: list[str] = Field(
        default_factory=list, description="origins WebSSO may post tokens to"
    )
    federation_oidc_audience: str | None = Field(
        None,
        description="when set, onestack checks OpenID Connect bearer tokens itself: their aud "
        "must hold this, their iss be a remote id of the identity provider",
    )
    federation_oidc_claim_prefix: str = "OIDC-CLAIM-"
    federation_default_authorization_ttl: int = Field(
        0,
        ge=0,
        description="minutes a federated login's groups count after it (0: only its tokens)",
    )


class PlacementSettings(BaseModel):
    """The ``[placement]`` section (upstream Placement's options under their names)."""

    database_url: str | None = None
    policy_file: Path | None = None
    max_allocation_candidates: int = Field(
        -1, ge=-1, description="most allocation candidates one request computes (-1: all)"
    )
    randomize_allocation_candidates: bool = Field(
        False, description="a random limit of all candidates instead of the first found"
    )


class NetworkSettings(BaseModel):
    """The ``[network]`` section (Neutron and ML2 options under the names operators know)."""

    database_url: str | None = None
    policy_file: Path | None = None
    base_mac: str = Field("fa:16:3e:00:00:00", pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
    global_physnet_mtu: int = Field(1500, ge=68)
    #: ML2 types: tenant networks get the first of tenant_network_types
    type_drivers: list[str] = Field(
        default_factory=lambda: ["flat", "vlan", "vxlan", "geneve", "local"]
    )
    tenant_network_types: list[str] = Field(default_factory=lambda: ["vxlan"])
    flat_networks: list[str] = Field(default_factory=lambda: ["public"], description="or *")
    network_vlan_ranges: list[str] = Field(
        default_factory=lambda: ["public"], description="PHYSNET or PHYSNET:MIN:MAX"
    )
    vni_ranges: list[str] = Field(default_factory=lambda: ["1:1000"])
    geneve_vni_ranges: list[str] = Field(default_factory=lambda: ["1:1000"])
    mechanism_drivers: list[str] = Field(default_factory=lambda: ["linuxbridge"])
    #: bind ports on hosts without a live L2 agent (until a dataplane agent reports in)
    bind_without_agent: bool = True
    #: the host's dataplane agent (``onestack agent network``): linux bridges, dnsmasq;
    #: auto: on where Compute runs real guests (QEMU driver) as root, else off
    dataplane: str = Field("auto", pattern="^(auto|linux|off)$")
    #: seconds between the dataplane agent's resyncs of its ports and DHCP servers
    dataplane_poll_interval: float = Field(0.5, gt=0)
    agent_down_time: int = Field(75, ge=1, description="seconds without a heartbeat")
    dns_domain: str = "openstacklocal."
    default_availability_zones: list[str] = Field(default_factory=lambda: ["nova"])
    max_fixed_ips_per_port: int = Field(5, ge=1)
    max_routes: int = Field(30, ge=0)
    pagination_max_limit: int = Field(-1, ge=-1, description="-1: lists are not capped")
    quotas: dict[str, int] = Field(
        default_factory=lambda: {
            "network": 100,
            "subnet": 100,
            "port": 500,
            "router": 10,
            "floatingip": 50,
            "security_group": 10,
            "security_group_rule": 100,
            "rbac_policy": 10,
            "subnetpool": -1,
        }
    )
    #: the first start creates DevStack's topology (public, the default pool, demo's private)
    create_default_topology: bool = True
    public_cidr: str = "172.24.4.0/24"
    public_cidr_v6: str = "2001:db8::/64"
    subnetpool_prefix_v4: str = "10.0.0.0/16"
    subnetpool_size_v4: int = 26
    nova_notify: bool = True


class VolumeBackendSettings(BaseModel):
    """One volume backend (``[volume.backends.NAME]``, Cinder's ``enabled_backends``)."""

    driver: str = Field("file", pattern="^(file|fake|lvm)$", description="file, fake or lvm")
    volume_backend_name: str | None = Field(None, description="default: the section name")
    path: Path | None = Field(None, description="file backend directory; default DATA/volumes")
    volume_format: str = Field("qcow2", pattern="^(qcow2|raw)$")
    total_capacity_gb: int | None = Field(
        None, ge=1, description="reported capacity; default the file system's size (fake: 1000)"
    )
    max_over_subscription_ratio: float = Field(20.0, ge=1.0)
    reserved_percentage: int = Field(0, ge=0, le=100)
    volume_group: str = "onestack-volumes"
    fake_delay: float = Field(0.0, ge=0, description="seconds each fake driver call takes")


class VolumeSettings(BaseModel):
    """The ``[volume]`` section (Cinder's options under the names operators know)."""

    database_url: DatabaseURL = None
    policy_file: Path | None = None
    backends: dict[str, VolumeBackendSettings] = Field(
        default_factory=lambda: {"file": VolumeBackendSettings()}
    )
    default_volume_type: str = "__DEFAULT__"
    storage_availability_zone: str = "nova"
    default_availability_zone: str | None = None
    allow_availability_zone_fallback: bool = False
    report_interval: float = Field(10.0, gt=0)
    service_down_time: float = Field(60.0, gt=0)
    osapi_max_limit: int = Field(1000, ge=1)
    image_conversion_dir: Path | None = Field(None, description="default DATA/volume-conversion")
    quotas: dict[str, int] = Field(
        default_factory=lambda: {
            "volumes": 10,
            "snapshots": 10,
            "gigabytes": 1000,
            "backups": 10,
            "backup_gigabytes": 1000,
            "groups": 10,
            "per_volume_gigabytes": -1,
        }
    )
    backup_driver: str = Field("posix", pattern="^(posix|swift)$")
    backup_posix_path: Path | None = Field(None, description="default DATA/volume-backups")
    backup_swift_container: str = "volumebackups"
    backup_chunk_size: int = Field(32 * 1024 * 1024, ge=65536, description="bytes per object")
    backup_compression_algorithm: str = Field("zlib", pattern="^(zlib|none)$")


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
    reaper_interval: float = Field(60.0, gt=0)
    sync_interval: float = Field(60.0, gt=0)
    reconciler_interval: float = Field(300.0, gt=0)
    container_sync_realms: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="container sync realms: realm -> cluster -> its /v1/ URL "
        "(X-Container-Sync-To: //realm/cluster/account/container)",
    )
    storage_domain: list[str] = Field(
        default_factory=lambda: ["localhost"],
        description="S3 virtual-host addressing: a request to BUCKET.<domain> names the bucket",
    )


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
    services: list[str] = [
        "identity",
        "image",
        "placement",
        "network",
        "compute",
        "object",
        "volume",
    ]
    remote_services: dict[str, str] = Field(
        default_factory=dict,
        validate_default=True,
        description="services served by other processes: name -> their base URL, for the catalog",
    )
    run_agents: bool = Field(
        True,
        description="run the enabled services' workers in-process (always on the in-process "
        "bus, which no other process can reach)",
    )
    database_url: DatabaseURL = Field(
        None, description="default for every service; else one SQLite file per service"
    )
    admin_password: str | None = None
    service_password: str | None = Field(
        None, description="service users' password; default kept in DATA/service-password"
    )
    metadata_proxy_shared_secret: str | None = Field(
        None,
        description="signs X-Instance-ID between Networking's metadata proxy and Compute's "
        "metadata API; default kept in DATA/metadata-proxy-secret",
    )
    identity_url: str | None = Field(
        None, description="Identity endpoint for a process without it; default BASE/identity"
    )
    max_request_body: int = Field(1024 * 1024, ge=1024)
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")
    access_log: bool = Field(True, description="one INFO line per request (logger onestack.access)")
    request_body_timeout: float = Field(
        60.0, gt=0, description="seconds a request body may pause before the request gets 408"
    )
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
    placement: PlacementSettings = Field(default_factory=PlacementSettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    object: ObjectSettings = Field(default_factory=ObjectSettings)
    volume: VolumeSettings = Field(default_factory=VolumeSettings)

    _toml_file: Path | None = None

    @field_validator("services")
    @classmethod
    def _known_services(cls, names: list[str]) -> list[str]:
        from onestack.common.service import SERVICES

        unknown = [name for name in names if name not in SERVICES]
        if unknown:
            raise ValueError(
                f"unknown service {', '.join(map(repr, unknown))}; valid: {', '.join(SERVICES)}"
            )
        return names

    @field_validator("remote_services")
    @classmethod
    def _requirements_met(cls, remote: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        from onestack.common.service import missing_requirements

        missing = missing_requirements(info.data.get("services", []), remote)
        if missing:
            raise ValueError(
                f"{'; '.join(missing)}: add it to services (--services) or name where it runs "
                "in remote_services"
            )
        return remote

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
            return async_database_url(url)
        return f"sqlite+aiosqlite:///{self.data_dir / (service + '.sqlite')}"


_TOML_FILE: Path | None = None


class ConfigError(ValueError):
    """A configuration problem, told in one line naming the setting or file and the fix."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings; ``overrides`` (e.g. from the command line) win over everything.

    Any problem (a missing or malformed TOML file, a value of the wrong type or out of range)
    is a :class:`ConfigError` whose message names the file or setting and what to do.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if config_file is None and os.environ.get("ONESTACK_CONFIG"):
        config_file = Path(os.environ["ONESTACK_CONFIG"])
        if not config_file.is_file():
            raise ConfigError(
                f"configuration file {config_file} (from $ONESTACK_CONFIG) does not exist: "
                "point ONESTACK_CONFIG at an onestack.toml or unset it"
            )
    elif config_file is not None and not config_file.is_file():
        raise ConfigError(
            f"configuration file {config_file} does not exist: give --config an onestack.toml"
        )
    if config_file is None:
        data_dir = Path(
            overrides.get("data_dir") or os.environ.get("ONESTACK_DATA_DIR") or DEFAULT_DATA_DIR
        )
        candidate = data_dir / "onestack.toml"
        config_file = candidate if candidate.is_file() else None
    try:
        return _load(config_file, overrides)
    except SettingsValidationError as exc:
        raise ConfigError(describe_invalid(exc, config_file)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"configuration file {config_file} is not valid TOML ({exc}): fix the file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {config_file} cannot be read: {exc}") from None


def describe_invalid(exc: SettingsValidationError, config_file: Path | None) -> str:
    """One line for every invalid setting: its TOML key, its environment variable, the value
    (unless it may hold a secret) and what is wrong."""
    parts = []
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        env = "ONESTACK_" + "__".join(p.upper() for p in loc)
        secret = any(word in key for word in ("password", "url", "secret"))
        value = "" if secret or "input" not in err else f" = {_short(err['input'])}"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{key}{value} (${env}): {msg}")
    more = f" (and {len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    where = f" in {config_file}, the environment or the options" if config_file else ""
    return f"invalid setting{where}: {'; '.join(parts)}{more}: correct the value"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _load(config_file: Path | None, overrides: dict[str, Any]) -> Settings:
    global _TOML_FILE
    _TOML_FILE = config_file
    try:
        return Settings(**overrides)
    finally:
        _TOML_FILE = None
