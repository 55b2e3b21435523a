"""Flows that are not compiled are reported per datapath in OVN's terms (issue 16)."""
from controller.blackholes import datapath_lines
from controller.compile import format_report

LB = "ct_lb_mark: load balancing / NAT (conntrack NAT is not implemented)"


def _miss(dp, stage, reason, n=1):
    return [{"uuid": f"{dp}-{stage}-{i}", "datapath": dp, "stage": stage,
             "category": "needs-conntrack", "reason": reason} for i in range(n)]


def test_a_switch_with_uncompiled_stateful_flows_is_named_with_its_consequence():
    lines = datapath_lines(_miss("web", "ls_in_pre_stateful", LB, 14)
                           + _miss("r1", "lr_in_ip_routing", "match: unknown port group @x"))
    assert lines == [
        "ls web: 14 flows need ct_lb_mark (load balancing / NAT (conntrack NAT is not "
        "implemented)): IP traffic on this switch may be dropped",
        "lr r1: 1 flow cannot be compiled (match: unknown port group @x): traffic these "
        "flows match on this router may be dropped"]
    assert datapath_lines([]) == []


def test_compile_report_prints_it_per_datapath():
    report = {"total": 3, "compiled": 1, "via_punt": 0,
              "by_category": {"compiled": 1, "needs-conntrack": 2}, "datapaths": ["web"],
              "shapes": 1, "shape_hash": "0" * 16, "maps": {}, "synthetic_groups": [],
              "compile_s": 0.1, "unsupported": _miss("web", "ls_out_pre_stateful", LB, 2),
              "warnings": [], "program": {"loaded": False, "reason": "not asked"}}
    assert ("WARNING ls web: 2 flows need ct_lb_mark (load balancing / NAT (conntrack NAT "
            "is not implemented)): IP traffic on this switch may be dropped"
            in format_report(report).splitlines())


def test_the_log_line_names_the_lflows_it_counts():
    """The controller log's line names (up to three of) the flows by UUID, so a user can
    `ovn-sbctl list Logical_Flow <uuid>` them, and the soak's every-warning-has-a-UUID
    check holds."""
    missing = [{"uuid": f"0000000{i}-aaaa-bbbb-cccc-dddddddddddd", "datapath": "web",
                "stage": "ls_in_pre_stateful", "reason": LB} for i in range(5)]
    (line,) = datapath_lines(missing, name_flows=3)
    assert line.endswith("may be dropped (lflows 00000000-aaaa-bbbb-cccc-dddddddddddd, "
                         "00000001-aaaa-bbbb-cccc-dddddddddddd, "
                         "00000002-aaaa-bbbb-cccc-dddddddddddd and 2 more)")
    (line,) = datapath_lines(missing[:1], name_flows=3)
    assert line.endswith("may be dropped (lflow 00000000-aaaa-bbbb-cccc-dddddddddddd)")
