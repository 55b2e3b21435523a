"""The map-backed helpers of ovnbpf_pipeline.h, run in the kernel (BPF_PROG_TEST_RUN) on map
entries the compiler made from a real Southbound: port security from Port_Binding,
MAC_Binding for get_arp/lookup_arp, FDB for get_fdb/lookup_fdb."""
import ipaddress
import shutil
import struct

import pytest

from controller.compile import compile_state, snapshot
from controller.lflow.emit_c import header_text
from controller.lflow.sbmaps import FDB_MAP, MAC_BINDINGS_MAP, PSEC_MAP

pytestmark = [pytest.mark.root, pytest.mark.bpf]

PROGRAM = r'''
#include "flow.h"
#include "ovnbpf_pipeline.h"
BPF_ARRAY(ovnbpf_test_flow, struct ovnbpf_flow, 1);

/* reg[15] selects the helper; the XDP return value is its result */
int ovnbpf_test_helpers(struct xdp_md *ctx)
{
    __u32 zero = 0;
    struct ovnbpf_flow *f = ovnbpf_test_flow.lookup(&zero);
    if (!f)
        return 9999;
    switch (f->reg[15]) {
    case 0: return ovnbpf_check_in_port_sec(f);
    case 1: return ovnbpf_check_out_port_sec(f);
    case 2: ovnbpf_get_arp(f, f->outport, f->reg[0]); return f->eth_dst == 0x0a0000000063ULL;
    case 3: return ovnbpf_lookup_arp(f, f->inport, f->arp_spa, f->arp_sha);
    case 4: return ovnbpf_get_fdb(f, f->eth_dst);
    case 5: return ovnbpf_lookup_fdb(f, f->inport, f->eth_src);
    }
    return 9999;
}
'''
P_ARP, P_IP4 = 1 << 1, 1 << 2


@pytest.fixture
def helpers(ovn_central, tmp_path):
    from bcc import BPF
    from datapath.csource import expand
    c = ovn_central
    c.nbctl("ls-add", "ls1", "--", "set", "Logical_Switch", "ls1", "other_config:requested-tnl-key=1",
            "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:00:01 10.0.0.1",
            "--", "lsp-set-port-security", "p1", "0a:00:00:00:00:01 10.0.0.1",
            "--", "set", "Logical_Switch_Port", "p1", "options:requested-tnl-key=1",
            "--", "lsp-add", "ls1", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:00:02",
            "--", "set", "Logical_Switch_Port", "p2", "options:requested-tnl-key=2",
            "--", "lr-add", "lr1", "--", "set", "Logical_Router", "lr1", "options:requested-tnl-key=3",
            "--", "lrp-add", "lr1", "lrp1", "02:00:00:00:00:01", "10.0.0.254/24",
            "--", "set", "Logical_Router_Port", "lrp1", "options:requested-tnl-key=5",
            "--", "lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router",
            "--", "lsp-set-addresses", "ls1-lr1", "router",
            "--", "lsp-set-options", "ls1-lr1", "router-port=lrp1", "requested-tnl-key=100")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("chassis-add", "hv1", "geneve", "127.0.0.1")
    c.sbctl("lsp-bind", "p1", "hv1")
    lr1 = c.sbctl("--bare", "--columns=_uuid", "find", "Datapath_Binding", "tunnel_key=3").strip()
    c.sbctl("create", "MAC_Binding", "logical_port=lrp1", f"datapath={lr1}", "ip=10.0.0.9",
            'mac="0a:00:00:00:00:63"')
    c.sbctl("create", "FDB", 'mac="0a:00:00:00:00:77"', "dp_key=1", "port_key=2")
    result = compile_state(snapshot(c.sb_remote), "hv1")
    (tmp_path / "ovnbpf_pipeline.h").write_text(header_text())
    (tmp_path / "prog.c").write_text(PROGRAM)
    text, _ = expand([tmp_path / "prog.c"], None)
    b = BPF(text=text.encode())
    try:
        for name in (PSEC_MAP, MAC_BINDINGS_MAP, FDB_MAP):
            t = b[name.encode()]
            for k, v in result.entries[name]:
                t[t.Key.from_buffer_copy(k)] = t.Leaf.from_buffer_copy(v)
        fn = b.load_func(b"ovnbpf_test_helpers", BPF.XDP)
        yield b, fn, result
    finally:
        b.cleanup()


def run(helpers, which, **fields):
    from datapath.testrun import run as test_run
    b, fn, _ = helpers
    t = b[b"ovnbpf_test_flow"]
    f = t.Leaf()
    for name, value in fields.items():
        setattr(f, name, value)
    f.reg[15] = which
    t[t.Key(0)] = f
    return test_run(fn.fd, bytes(64)).verdict


def ip(text):
    return int(ipaddress.ip_address(text))


def test_port_security_entries_come_from_port_binding(helpers):
    _, _, result = helpers
    assert len(result.entries[PSEC_MAP]) == 3    # p1: port, MAC, IPv4
    assert result.entries[FDB_MAP] and result.entries[MAC_BINDINGS_MAP]


def test_check_in_port_sec(helpers):
    ok = dict(dp=1, inport=1, eth_src=0x0a0000000001, present=P_IP4, ip4_src=ip("10.0.0.1"))
    assert run(helpers, 0, **ok) == 0
    assert run(helpers, 0, **{**ok, "eth_src": 0x0a00000000ff}) == 1, "spoofed MAC"
    assert run(helpers, 0, **{**ok, "ip4_src": ip("10.0.0.66")}) == 1, "spoofed IP"
    assert run(helpers, 0, **{**ok, "present": P_ARP, "arp_sha": 0x0a0000000001,
                              "arp_spa": ip("10.0.0.1")}) == 0
    assert run(helpers, 0, **{**ok, "present": P_ARP, "arp_sha": 0x0a0000000001,
                              "arp_spa": ip("10.0.0.5")}) == 1, "ARP for another IP"
    dhcp = dict(ok, ip4_src=0, ip4_dst=0xffffffff, ip_proto=17, tp_src=68, tp_dst=67)
    assert run(helpers, 0, **dhcp) == 0, "DHCP discover is allowed"
    assert run(helpers, 0, dp=1, inport=2, eth_src=0x0a00000000ff, present=P_IP4) == 0, \
        "a port without port security accepts anything"


def test_check_out_port_sec(helpers):
    to_p1 = dict(dp=1, outport=1, eth_dst=0x0a0000000001, present=P_IP4, ip4_dst=ip("10.0.0.1"))
    assert run(helpers, 1, **to_p1) == 0
    assert run(helpers, 1, **{**to_p1, "ip4_dst": ip("10.0.0.7")}) == 1
    assert run(helpers, 1, **{**to_p1, "ip4_dst": 0xffffffff}) == 0
    assert run(helpers, 1, **{**to_p1, "eth_dst": 0x0a0000000002}) == 1


def test_mac_binding_and_fdb(helpers):
    assert run(helpers, 2, dp=3, outport=5, reg=_regs(ip("10.0.0.9"))) == 1
    assert run(helpers, 2, dp=3, outport=5, reg=_regs(ip("10.0.0.8"))) == 0   # eth.dst = 0
    assert run(helpers, 3, dp=3, inport=5, arp_spa=ip("10.0.0.9"), arp_sha=0x0a0000000063) == 1
    assert run(helpers, 3, dp=3, inport=5, arp_spa=ip("10.0.0.9"), arp_sha=0x0a0000000064) == 0
    assert run(helpers, 4, dp=1, eth_dst=0x0a0000000077) == 2
    assert run(helpers, 4, dp=1, eth_dst=0x0a0000000078) == 0
    assert run(helpers, 5, dp=1, inport=2, eth_src=0x0a0000000077) == 1
    assert run(helpers, 5, dp=1, inport=1, eth_src=0x0a0000000077) == 0


def _regs(reg0):
    from ctypes import c_uint32
    regs = (c_uint32 * 16)()
    regs[0] = reg0
    return regs
