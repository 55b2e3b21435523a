"""Parts of the walk that do not need the compiled pipeline: reading the Geneve header
of a tunnelled copy, and the sandbox (namespace, veths, test runs inside it) that is
always removed."""
import subprocess
from pathlib import Path

import pytest

from controller.trace.walk import Sandbox, geneve_fields

DATA = Path(__file__).parent / "data"


def test_geneve_fields_of_the_ovs_capture():
    from scapy.utils import rdpcap
    [pkt] = rdpcap(str(DATA / "canonical-geneve.pcap"))      # vm1 -> vm3 from OVS, hv1 -> hv2
    vni, inport, outport, inner = geneve_fields(bytes(pkt))
    assert (vni, inport, outport) == (1, 1, 3)
    assert inner[:12].hex() == "0a0000000103" "0a0000000101"


@pytest.mark.root
@pytest.mark.bpf
def test_sandbox_runs_programs_with_its_own_ifindex_and_leaves_nothing():
    from bcc import BPF
    box = Sandbox()
    try:
        _, first = box.add_device()
        name, ifindex = box.add_device()
        assert ifindex != first
        prog = BPF(text=f"""
        int ovnbpf_t_ifindex(struct xdp_md *ctx) {{
            return ctx->ingress_ifindex == {ifindex} ? XDP_PASS : XDP_DROP;
        }}""")
        fn = prog.load_func(b"ovnbpf_t_ifindex", BPF.XDP)
        assert box.run(fn.fd, b"\x00" * 60, ifindex).verdict == 2
        assert box.run(fn.fd, b"\x00" * 60, first).verdict == 1
    finally:
        box.close()
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert box.netns not in ns
    assert not Path(box.pin_root).exists() and not Path(box.workdir).exists()
