"""Property: any packet a microflow can describe is built into a frame that reads back as
the same fields, so a diff of the delivered frame shows only what the datapath changed."""
from hypothesis import given, settings, strategies as st

from controller.trace.fields import diff
from controller.trace.frame import build_frame, frame_fields
from controller.trace.microflow import parse_microflow

macs = st.integers(0, (1 << 48) - 1).map(lambda v: ":".join(f"{b:02x}" for b in v.to_bytes(6, "big")))
ip4s = st.integers(0, (1 << 32) - 1).map(lambda v: ".".join(str(b) for b in v.to_bytes(4, "big")))
ports = st.integers(0, 65535)
bytes_ = st.integers(0, 255)


@st.composite
def microflows(draw):
    parts = ['inport == "p"', f"eth.src == {draw(macs)}", f"eth.dst == {draw(macs)}"]
    l3 = draw(st.sampled_from(["ip4", "ip6", "arp", "other"]))
    if draw(st.booleans()):
        parts.append(f"vlan.tci == {0x1000 | draw(st.integers(0, 0xFFFF)) & ~0x1000:#x}")
    if l3 == "arp":
        parts += [f"arp.op == {draw(st.integers(1, 2))}", f"arp.sha == {draw(macs)}",
                  f"arp.spa == {draw(ip4s)}", f"arp.tha == {draw(macs)}", f"arp.tpa == {draw(ip4s)}"]
    elif l3 == "other":
        parts.append(f"eth.type == {draw(st.sampled_from([0, 0x88cc, 0x9000])):#x}")
    else:
        parts += [l3, f"ip.ttl == {draw(bytes_)}", f"ip.dscp == {draw(st.integers(0, 63))}",
                  f"ip.ecn == {draw(st.integers(0, 3))}"]
        if l3 == "ip4":
            parts += [f"ip4.src == {draw(ip4s)}", f"ip4.dst == {draw(ip4s)}"]
        l4 = draw(st.sampled_from(["tcp", "udp", "sctp", "icmp", "raw"]))
        if l4 in ("tcp", "udp", "sctp"):
            parts += [f"{l4}.src == {draw(ports)}", f"{l4}.dst == {draw(ports)}"]
        elif l4 == "icmp":
            kind = "icmp4" if l3 == "ip4" else "icmp6"
            parts += [f"{kind}.type == {draw(st.sampled_from([0, 3, 8, 11, 128, 129]))}",
                      f"{kind}.code == {draw(st.integers(0, 15))}"]
        else:
            parts.append(f"ip.proto == {draw(st.sampled_from([2, 47, 89]))}")
    return " && ".join(parts)


@settings(max_examples=300, deadline=None)
@given(microflows())
def test_frames_read_back_as_their_microflow(text):
    fields = parse_microflow(text).fields
    frame = build_frame(fields)
    assert len(frame) >= 60
    assert diff(fields, frame_fields(frame)) == {}, text
