"""Coverage of the captured two-chassis flows (OVN 23.03): every punted action northd
writes there is one the punt handler carries out, so those flows count as compiled and
only conntrack remains."""
from pathlib import Path

from controller.compile import coverage
from controller.lflow.flows import read_lflow_list
from controller.lflow.passes import Env

DATA = Path(__file__).resolve().parents[1] / "lflow" / "data"


def test_punted_flows_count_as_compiled_only_conntrack_remains():
    flows = read_lflow_list((DATA / "lflows-two-chassis.txt").read_text())
    report = coverage(flows, Env(address_sets={"svc_monitor_mac": ("00:00:00:00:00:00",)}))
    assert set(report["by_category"]) == {"compiled", "needs-conntrack"}, report["by_category"]
    # icmp4 6 + icmp6 4 + tcp_reset 4 + sctp_abort 4 + nd_na_router 4 + put_nd 3 + put_arp 1
    # + arp 1 + nd_ns 1 + handle_svc_check 2 + handle_dhcpv6_reply 2: the punting actions
    # real northd wrote for the two-chassis lab (data/lflows-two-chassis.txt), counted by hand
    assert report["via_punt"] == 32
    assert report["compiled"] + report["by_category"]["needs-conntrack"] == report["total"] > 270
    assert all(u["category"] == "needs-conntrack" for u in report["unsupported"])
