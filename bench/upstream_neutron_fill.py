"""Fill upstream neutron's database directly, for bench/network.py's side-by-side run: its
API makes 170-400 ports a minute on this machine, so 10,000 ports are out of reach through it.

Runs in upstream's own venv with neutron's own models (the rows its API would write):

    bench/.upstream/neutron/bin/python bench/upstream_neutron_fill.py ports NETWORK_ID COUNT
    bench/.upstream/neutron/bin/python bench/upstream_neutron_fill.py rules GROUP_ID COUNT

``ports``: COUNT unbound ports on the network like the ones ``POST /v2.0/ports`` makes there
(standard attributes, one address of the network's first subnet in Neutron's and in its IPAM
driver's tables, the ML2 binding row, port security on, the project's default security group).
``rules``: COUNT ingress TCP rules on ports 1..COUNT in the security group.
The database URL is ``$NEUTRON_DB`` (default: bench/upstream_neutron.sh's).
"""

from __future__ import annotations

import ipaddress
import os
import random
import sys
import uuid

import sqlalchemy as sa
from neutron.db import models_v2
from neutron.db.migration.models import head  # noqa: F401  (every model, for the mappers)
from neutron.db.models import securitygroup as sg_models
from neutron.db.port_security import models as psec_models
from neutron.ipam.drivers.neutrondb_ipam import db_models as ipam_models
from neutron.plugins.ml2 import models as ml2_models
from oslo_utils import timeutils
from sqlalchemy import orm

DB = os.environ.get("NEUTRON_DB", "mysql+pymysql://root@127.0.0.1/neutron_bench")
BATCH = 500


def _mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in random.randbytes(3))


def fill_ports(session: orm.Session, network_id: str, count: int) -> None:
    network = session.get(models_v2.Network, network_id)
    subnet = session.scalars(
        sa.select(models_v2.Subnet).where(models_v2.Subnet.network_id == network_id)
    ).unique().first()
    ipam_subnet = session.scalars(
        sa.select(ipam_models.IpamSubnet).where(
            ipam_models.IpamSubnet.neutron_subnet_id == subnet.id
        )
    ).unique().one()
    group = session.scalars(
        sa.select(sg_models.SecurityGroup).where(
            sg_models.SecurityGroup.project_id == network.project_id,
            sg_models.SecurityGroup.name == "default",
        )
    ).unique().one()
    taken = set(
        session.scalars(
            sa.select(models_v2.IPAllocation.ip_address).where(
                models_v2.IPAllocation.subnet_id == subnet.id
            )
        )
    )
    macs = set(session.scalars(sa.select(models_v2.Port.mac_address)))
    cidr = ipaddress.ip_network(subnet.cidr)
    addresses = (a for a in map(str, cidr.hosts()) if a not in taken and a != subnet.gateway_ip)
    for start in range(0, count, BATCH):
        now = timeutils.utcnow()
        for _ in range(min(BATCH, count - start)):
            port_id = str(uuid.uuid4())
            mac = _mac()
            while mac in macs:
                mac = _mac()
            macs.add(mac)
            address = next(addresses)
            session.add(
                models_v2.Port(
                    id=port_id,
                    project_id=network.project_id,
                    name="",
                    network_id=network_id,
                    mac_address=mac,
                    admin_state_up=True,
                    status="DOWN",
                    device_id="",
                    device_owner="",
                    description="",
                    created_at=now,
                    updated_at=now,
                    revision_number=1,
                )
            )
            session.add(
                models_v2.IPAllocation(
                    port_id=port_id,
                    ip_address=address,
                    subnet_id=subnet.id,
                    network_id=network_id,
                )
            )
            session.add(
                ipam_models.IpamAllocation(
                    ip_address=address, status="ALLOCATED", ipam_subnet_id=ipam_subnet.id
                )
            )
            session.add(
                ml2_models.PortBinding(
                    port_id=port_id,
                    host="",
                    vnic_type="normal",
                    profile="",
                    vif_type="unbound",
                    vif_details="",
                    status="ACTIVE",
                )
            )
            session.add(
                psec_models.PortSecurityBinding(port_id=port_id, port_security_enabled=True)
            )
            session.add(
                sg_models.SecurityGroupPortBinding(port_id=port_id, security_group_id=group.id)
            )
        session.commit()


def fill_rules(session: orm.Session, group_id: str, count: int) -> None:
    group = session.get(sg_models.SecurityGroup, group_id)
    now = timeutils.utcnow()
    for port in range(1, count + 1):
        session.add(
            sg_models.SecurityGroupRule(
                id=str(uuid.uuid4()),
                project_id=group.project_id,
                security_group_id=group_id,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=port,
                port_range_max=port,
                description="",
                created_at=now,
                updated_at=now,
                revision_number=0,
            )
        )
    session.commit()


def main() -> None:
    kind, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = sa.create_engine(DB)
    with orm.Session(engine) as session:
        {"ports": fill_ports, "rules": fill_rules}[kind](session, target, count)


if __name__ == "__main__":
    main()
