"""Which datapaths this chassis must program: those of its VIFs and every datapath reachable
from them through patch ports (logical switch <-> router), like ovn-controller's
"related datapaths". A packet from a local VIF can traverse all of them on this chassis.
"""


def related_datapaths(ports, local_iface_ids):
    """ports: rows.PortBinding of (at least) the local and patch ports.
    Returns the frozenset of datapath uuids this chassis needs."""
    by_name = {p.logical_port: p for p in ports}
    frontier = [p.datapath for p in ports if p.logical_port in local_iface_ids and p.datapath]
    patches_by_dp = {}
    for p in ports:
        if p.type == "patch" and p.option("peer"):
            patches_by_dp.setdefault(p.datapath, []).append(p.option("peer"))
    seen = set()
    while frontier:
        dp = frontier.pop()
        if dp in seen:
            continue
        seen.add(dp)
        for peer_name in patches_by_dp.get(dp, ()):
            peer = by_name.get(peer_name)
            if peer and peer.datapath not in seen:
                frontier.append(peer.datapath)
    return frozenset(seen)
