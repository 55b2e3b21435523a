"""The OVS reference chassis' checksum filler (bpf/xdp_csum_fill.c) on a VIF's chassis
side: OVS userspace forwards what it reads with AF_PACKET, partial checksums included.
Loaded with bcc, attached by netlink: the device holds the program, so it lives as long
as the VIF and needs no process or pin."""
from datapath.bpfsrc import bpf_dir
from datapath.csource import expand
from datapath.loader import Attachments

_prog = None


def _load():
    global _prog
    if _prog is None:
        from bcc import BPF
        text, _ = expand([bpf_dir() / "xdp_csum_fill.c"], None)
        bpf = BPF(text=text.encode())
        _prog = (bpf, bpf.load_func(b"ovnbpf_xdp_csum_fill", BPF.XDP).fd)
    return _prog[1]


def attach(dev, netns):
    from pyroute2 import NetNS
    with NetNS(netns) as ns:
        ifindex = ns.link_lookup(ifname=dev)[0]
    Attachments().xdp(ifindex, _load(), netns=netns)
