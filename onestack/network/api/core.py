"""/v2.0/networks, /subnets, /ports, /security-groups, /security-group-rules, /subnetpools,
/address-scopes and /agents."""

from __future__ import annotations

from onestack.network import agents, networks, ports, secgroups, subnetpools, subnets
from onestack.network.api import crud_routes, protected_router

router = protected_router()

crud_routes(
    router,
    networks.RES,
    create=networks.create,
    list_=networks.list_networks,
    show=networks.show,
    update=networks.update,
    delete=networks.delete_network,
)
crud_routes(
    router,
    subnets.RES,
    create=subnets.create,
    list_=subnets.list_subnets,
    show=subnets.show,
    update=subnets.update,
    delete=subnets.delete_subnet,
)
crud_routes(
    router,
    ports.RES,
    create=ports.create,
    list_=ports.list_ports,
    show=ports.show,
    update=ports.update,
    delete=ports.delete_port,
)
crud_routes(
    router,
    secgroups.GROUPS,
    path="security-groups",
    create=secgroups.create_group,
    list_=secgroups.list_groups,
    show=secgroups.show_group,
    update=secgroups.update_group,
    delete=secgroups.delete_group,
)
crud_routes(
    router,
    secgroups.RULES,
    path="security-group-rules",
    create=secgroups.create_rule,
    list_=secgroups.list_rules,
    show=secgroups.show_rule,
    delete=secgroups.delete_rule,
)
crud_routes(
    router,
    subnetpools.POOLS,
    create=subnetpools.create_pool,
    list_=subnetpools.list_pools,
    show=subnetpools.show_pool,
    update=subnetpools.update_pool,
    delete=subnetpools.delete_pool,
)
crud_routes(
    router,
    subnetpools.SCOPES,
    path="address-scopes",
    create=subnetpools.create_scope,
    list_=subnetpools.list_scopes,
    show=subnetpools.show_scope,
    update=subnetpools.update_scope,
    delete=subnetpools.delete_scope,
)
crud_routes(
    router,
    agents.RES,
    list_=agents.list_agents,
    show=agents.show,
    update=agents.update,
    delete=agents.delete_agent,
)
