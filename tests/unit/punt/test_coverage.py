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


def test_dhcp_dns_run_through_the_punt_path_router_adverts_say_they_do_not():
    """Before, put_dhcp_opts read "DHCP reply built by the controller" under needs-punt while
    the datapath dropped it (NOT_COMPILED); now it and dns_lookup count as compiled through
    the punt path (DHCPv6 too), and what the handler lacks says so."""
    from controller.lflow.flows import LogicalFlow
    m = 'inport == "lsp-vm1" && udp.src == 546 && udp.dst == 547'
    ra = 'inport == "lrp-ls1" && ip6.dst == ff02::2 && nd_rs'
    flows = [LogicalFlow("ls1", "ingress", 20, "ls_in_dhcp_options", 100, 'inport == "lsp-vm1" && udp.dst == 67',
                         "reg0[3] = put_dhcp_opts(offerip = 10.0.1.11, router = 10.0.1.1); next;", "u1"),
             LogicalFlow("ls1", "ingress", 22, "ls_in_dns_lookup", 100, "udp.dst == 53",
                         "reg0[4] = dns_lookup(); next;", "u2"),
             LogicalFlow("ls1", "ingress", 20, "ls_in_dhcp_options", 100, m,
                         "reg0[3] = put_dhcpv6_opts(ia_addr = fd00::11); next;", "u3"),
             LogicalFlow("lr1", "ingress", 9, "lr_in_nd_ra_options", 50, ra,
                         "reg0[5] = put_nd_ra_opts(addr_mode = \"slaac\", slla = 02:00:00:00:01:01, "
                         "prefix = fd00::/64); next;", "u4")]
    report = coverage(flows, Env())
    assert report["via_punt"] == 3 and report["compiled"] == 3, report
    [missing] = report["unsupported"]
    assert missing["uuid"] == "u4" and missing["category"] == "needs-punt"
    assert missing["reason"].startswith("put_nd_ra_opts: not carried out by the punt handler"), missing
