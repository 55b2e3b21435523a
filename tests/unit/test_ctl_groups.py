"""`ovnbpf ctl` in OVN's terms (pure logic over a status file's labels): POLICY and
NOT_COMPILED drops by the lflow that made them, hits grouped by datapath and stage with
switch and router stages never interleaved, chassis by name."""
from controller import ctl

COOKIES = {"1": "u-sw-acl", "2": "u-rt-in", "3": "u-sw-drop", "4": "u-rt-ct", "5": "u-sw-out"}
LABELS = {   # [pipeline, table, stage, priority, match, datapaths, actions]
    "u-sw-acl": ["ingress", 0, "ls_in_check_port_sec", 50, "1", "ls1", "next;"],
    "u-rt-in": ["ingress", 0, "lr_in_admission", 50, "1", "lr1", "next;"],
    "u-sw-drop": ["ingress", 0, "ls_in_check_port_sec", 100, "eth.src[40]", "ls1", "drop;"],
    "u-rt-ct": ["ingress", 4, "lr_in_defrag", 100, "ip", "lr1", "ct_dnat;"],
    "u-sw-out": ["egress", 9, "ls_out_apply_port_sec", 0, "1", "ls1", "output;"],
}
HITS = {1: 10, 2: 7, 3: 3, 4: 2, 5: 9}


def test_drops_by_lflow_name_the_flow_and_its_reason():
    nc = {"u-rt-ct": {"uuid": "u-rt-ct", "reason": "connection tracking"}}
    got = ctl.lflow_drops(HITS, COOKIES, LABELS, nc)
    assert [(d["lflow"], d["drops"], d["reason"], d["stage"], d["datapath"]) for d in got] == [
        ("u-sw-drop", 3, "POLICY", "ls_in_check_port_sec", "ls1"),
        ("u-rt-ct", 2, "NOT_COMPILED: connection tracking", "lr_in_defrag", "lr1")]
    text = "\n".join(ctl.lflow_drop_lines(got))
    assert "u-sw-drop  ls1 ingress 0 ls_in_check_port_sec prio 100  POLICY" in text


def test_stages_switches_then_routers_in_pipeline_order():
    labels = {**LABELS, "u-sw2": ["ingress", 0, "ls_in_check_port_sec", 90, "1", "ls1,ls2", "next;"]}
    got = ctl.stage_hits({**HITS, 6: 4}, {**COOKIES, "6": "u-sw2"}, labels)
    assert [(s["kind"], s["datapaths"], s["pipeline"], s["stage"], s["hits"]) for s in got] == [
        ("switch", ["ls1", "ls2"], "ingress", "ls_in_check_port_sec", 17),
        ("switch", ["ls1"], "egress", "ls_out_apply_port_sec", 9),
        ("router", ["lr1"], "ingress", "lr_in_admission", 7),
        ("router", ["lr1"], "ingress", "lr_in_defrag", 2)]


def test_older_labels_without_datapath_still_read():
    old = {u: l[:5] for u, l in LABELS.items()}
    assert ctl.lflow_drops(HITS, COOKIES, old, {}) == []      # no actions: no POLICY claim
    assert len(ctl.stage_hits(HITS, COOKIES, old)) == 4


def test_chassis_by_name():
    name = ctl.chassis_namer({"chassis_ids": {"hv1": 1, "hv2": 2}})
    assert name(2) == name("2") == "hv2" and name(7) == "chassis#7"


def test_not_compiled_flows_listed_switches_first_then_by_datapath_and_stage():
    missing = [{"uuid": "a", "datapath": "lr1", "stage": "lr_in_defrag", "category": "c", "reason": "r"},
               {"uuid": "b", "datapath": "ls2", "stage": "ls_out_pre_lb", "category": "c", "reason": "r"},
               {"uuid": "c", "datapath": "ls2", "stage": "ls_in_pre_lb", "category": "c", "reason": "r"},
               {"uuid": "d", "datapath": "ls1", "stage": "ls_in_pre_lb", "category": "c", "reason": "r"}]
    lines = ctl.not_compiled_lines(missing)[1:]
    assert [line.split()[0] for line in lines] == ["d", "c", "b", "a"]
