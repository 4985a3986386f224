"""Networking (Neutron v2.0): networks, subnets, ports, IPAM, routers, floating IPs,
security groups and the ML2-style type and mechanism drivers the dataplane plugs into."""
