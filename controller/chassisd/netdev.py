"""Lookups in the host's network configuration that the controller and its reconfiguration
both need (kept apart from the daemon so reconfig does not import the daemon)."""


def device_holding(ip):
    """The device in this namespace that carries `ip` (the underlay uplink)."""
    from pyroute2 import IPRoute   # lazy: netlink is needed only when the uplink is looked up
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=2):
            if a.get_attr("IFA_ADDRESS") == ip:
                return ipr.get_links(a["index"])[0].get_attr("IFLA_IFNAME")
    return None
