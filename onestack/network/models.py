"""Network tables (all prefixed ``network_``).

Every resource carries Neutron's standard attributes (project, name, description, timestamps,
revision number); tags of any resource live in one narrow table keyed by the resource id.
Uniqueness the API promises is a database constraint, so concurrent requests on any backend
can never break it: one address per subnet (IPAM), one MAC per network, one segmentation id per
(type, physical network), one default security group and one auto-allocated topology per
project, one rule of a given shape per security group.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from onestack.common.db import UTCDateTime, new_metadata, utcnow
from onestack.common.quota import quota_tables


class OrJSON(TypeDecorator[Any]):
    """JSON in a text column, (de)serialised by orjson: a list of 10,000 ports reads 40,000
    such values, and the standard library's decoder would be half of the request's time."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(self, value: str | bytes | None, dialect: Any) -> Any:
        return None if value is None else orjson.loads(value)


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: OrJSON,
        list[Any]: OrJSON,
    }


def new_id() -> str:
    """Neutron's ids are dashed UUIDs."""
    return str(uuid.uuid4())


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


class StandardAttrs:
    """Neutron's standard attributes, on every top-level resource."""

    project_id: Mapped[str] = mapped_column(String(255), index=True, default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class Network(StandardAttrs, Base):
    __tablename__ = "network_networks"
    id: Mapped[str] = _id()
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    router_external: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    availability_zone_hints: Mapped[list[Any]] = mapped_column(default=list)
    qos_policy_id: Mapped[str | None] = mapped_column(String(36))


class Segment(Base):
    __tablename__ = "network_segments"
    id: Mapped[str] = _id()
    network_id: Mapped[str] = mapped_column(
        ForeignKey("network_networks.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255), default="")
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64))
    segmentation_id: Mapped[int | None] = mapped_column(Integer)
    segment_index: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class SegmentAllocation(Base):
    """A taken segmentation id: the primary key makes two networks on one id impossible."""

    __tablename__ = "network_segment_allocations"
    network_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    physical_network: Mapped[str] = mapped_column(String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[str] = mapped_column(
        ForeignKey("network_segments.id", ondelete="CASCADE"), index=True
    )


class FlatAllocation(Base):
    """A physical network taken by a flat network (one per physical network)."""

    __tablename__ = "network_flat_allocations"
    physical_network: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment_id: Mapped[str] = mapped_column(
        ForeignKey("network_segments.id", ondelete="CASCADE"), index=True
    )


class Subnet(StandardAttrs, Base):
    __tablename__ = "network_subnets"
    id: Mapped[str] = _id()
    network_id: Mapped[str] = mapped_column(
        ForeignKey("network_networks.id", ondelete="CASCADE"), index=True
    )
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32))
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32))
    allocation_pools: Mapped[list[Any]] = mapped_column(default=list)
    dns_nameservers: Mapped[list[Any]] = mapped_column(default=list)
    host_routes: Mapped[list[Any]] = mapped_column(default=list)
    service_types: Mapped[list[Any]] = mapped_column(default=list)
    subnetpool_id: Mapped[str | None] = mapped_column(String(36), index=True)
    segment_id: Mapped[str | None] = mapped_column(String(36))
    dns_publish_fixed_ip: Mapped[bool] = mapped_column(Boolean, default=False)


class Port(StandardAttrs, Base):
    __tablename__ = "network_ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address"),)
    id: Mapped[str] = _id()
    network_id: Mapped[str] = mapped_column(
        ForeignKey("network_networks.id", ondelete="CASCADE"), index=True
    )
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    binding_host_id: Mapped[str] = mapped_column(String(255), default="")
    binding_vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    binding_vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_address_pairs: Mapped[list[Any]] = mapped_column(default=list)
    extra_dhcp_opts: Mapped[list[Any]] = mapped_column(default=list)
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    propagate_uplink_status: Mapped[bool] = mapped_column(Boolean, default=False)
    qos_policy_id: Mapped[str | None] = mapped_column(String(36))


class IPAllocation(Base):
    """One address of one subnet held by one port: the primary key is the IPAM guarantee."""

    __tablename__ = "network_ip_allocations"
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("network_subnets.id", ondelete="CASCADE"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), index=True
    )
    network_id: Mapped[str] = mapped_column(String(36), index=True)


class SecurityGroup(StandardAttrs, Base):
    __tablename__ = "network_security_groups"
    id: Mapped[str] = _id()
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class DefaultSecurityGroup(Base):
    __tablename__ = "network_default_security_groups"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_groups.id", ondelete="CASCADE")
    )


class SecurityGroupRule(Base):
    __tablename__ = "network_security_group_rules"
    __table_args__ = (UniqueConstraint("security_group_id", "signature"),)
    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(String(255), index=True, default="")
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_groups.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64))
    normalized_cidr: Mapped[str | None] = mapped_column(String(64))
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_security_groups.id", ondelete="CASCADE")
    )
    remote_address_group_id: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(String(255), default="")
    #: The rule's shape (direction, ethertype, protocol, ports, remotes): duplicates are 409.
    signature: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class PortSecurityGroup(Base):
    __tablename__ = "network_port_security_groups"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_groups.id"), primary_key=True, index=True
    )


class AddressGroup(StandardAttrs, Base):
    __tablename__ = "network_address_groups"
    id: Mapped[str] = _id()
    addresses: Mapped[list[Any]] = mapped_column(default=list)


class AddressScope(StandardAttrs, Base):
    __tablename__ = "network_address_scopes"
    id: Mapped[str] = _id()
    ip_version: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class SubnetPool(StandardAttrs, Base):
    __tablename__ = "network_subnetpools"
    id: Mapped[str] = _id()
    ip_version: Mapped[int] = mapped_column(Integer)
    prefixes: Mapped[list[Any]] = mapped_column(default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    address_scope_id: Mapped[str | None] = mapped_column(String(36))
    default_quota: Mapped[int | None] = mapped_column(Integer)


class Router(StandardAttrs, Base):
    __tablename__ = "network_routers"
    id: Mapped[str] = _id()
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    external_network_id: Mapped[str | None] = mapped_column(String(36))
    gw_port_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_ports.id", ondelete="SET NULL")
    )
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    routes: Mapped[list[Any]] = mapped_column(default=list)
    distributed: Mapped[bool] = mapped_column(Boolean, default=False)
    ha: Mapped[bool] = mapped_column(Boolean, default=False)
    availability_zone_hints: Mapped[list[Any]] = mapped_column(default=list)


class FloatingIP(StandardAttrs, Base):
    __tablename__ = "network_floatingips"
    id: Mapped[str] = _id()
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("network_networks.id"), index=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    floating_port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), unique=True
    )
    port_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_ports.id", ondelete="SET NULL"), index=True
    )
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64))
    router_id: Mapped[str | None] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    qos_policy_id: Mapped[str | None] = mapped_column(String(36))


class PortForwarding(Base):
    __tablename__ = "network_port_forwardings"
    __table_args__ = (UniqueConstraint("floatingip_id", "protocol", "external_port"),)
    id: Mapped[str] = _id()
    floatingip_id: Mapped[str] = mapped_column(
        ForeignKey("network_floatingips.id", ondelete="CASCADE"), index=True
    )
    internal_port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), index=True
    )
    internal_ip_address: Mapped[str] = mapped_column(String(64))
    internal_port: Mapped[int] = mapped_column(Integer)
    external_port: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(255), default="")


class RBACPolicy(Base):
    __tablename__ = "network_rbac_policies"
    __table_args__ = (UniqueConstraint("object_type", "object_id", "action", "target_project"),)
    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(32))
    target_project: Mapped[str] = mapped_column(String(255), index=True)


class Agent(Base):
    __tablename__ = "network_agents"
    __table_args__ = (UniqueConstraint("agent_type", "host"),)
    id: Mapped[str] = _id()
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    configurations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resources_synced: Mapped[bool | None] = mapped_column(Boolean)
    description: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RouterL3Agent(Base):
    """A router hosted by an L3 agent (``l3_agent_scheduler``)."""

    __tablename__ = "network_router_l3_agents"
    router_id: Mapped[str] = mapped_column(
        ForeignKey("network_routers.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("network_agents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class NetworkDhcpAgent(Base):
    """A network served by a DHCP agent (``dhcp_agent_scheduler``)."""

    __tablename__ = "network_network_dhcp_agents"
    network_id: Mapped[str] = mapped_column(
        ForeignKey("network_networks.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("network_agents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Tag(Base):
    __tablename__ = "network_tags"
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class AutoAllocation(Base):
    """The project's auto-allocated topology; the primary key makes it one per project."""

    __tablename__ = "network_auto_allocations"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    network_id: Mapped[str | None] = mapped_column(String(36))
    router_id: Mapped[str | None] = mapped_column(String(36))
    #: when the building process claimed it; a claim left unfinished for long is taken over
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


Index("ix_network_ports_device_owner", Port.device_owner)
QUOTAS = quota_tables(Base.metadata, "network")


class Meta(Base):
    """Facts about the service's own state (``bootstrapped``: the first start's topology)."""

    __tablename__ = "network_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class QosPolicy(StandardAttrs, Base):
    __tablename__ = "network_qos_policies"
    id: Mapped[str] = _id()
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class QosRule(Base):
    """One rule of a QoS policy; one of each type (and direction) per policy."""

    __tablename__ = "network_qos_rules"
    __table_args__ = (UniqueConstraint("policy_id", "type", "direction"),)
    id: Mapped[str] = _id()
    policy_id: Mapped[str] = mapped_column(
        ForeignKey("network_qos_policies.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8), default="egress")
    max_kbps: Mapped[int | None] = mapped_column(Integer)
    max_burst_kbps: Mapped[int | None] = mapped_column(Integer)
    dscp_mark: Mapped[int | None] = mapped_column(Integer)
    min_kbps: Mapped[int | None] = mapped_column(Integer)


class Trunk(StandardAttrs, Base):
    __tablename__ = "network_trunks"
    id: Mapped[str] = _id()
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), unique=True
    )
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")


class SubPort(Base):
    """A port carried by a trunk on one VLAN: a port is in at most one trunk."""

    __tablename__ = "network_subports"
    __table_args__ = (UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id"),)
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), primary_key=True
    )
    trunk_id: Mapped[str] = mapped_column(
        ForeignKey("network_trunks.id", ondelete="CASCADE"), index=True
    )
    segmentation_type: Mapped[str] = mapped_column(String(32), default="vlan")
    segmentation_id: Mapped[int] = mapped_column(Integer)
