"""A VM as libvirt plugs one, without the VM: `write` opens a tap (IFF_TAP | IFF_NO_PI |
IFF_VNET_HDR) in the namespace it runs in and writes frames behind a virtio_net_hdr,
as virtio-net hands a guest's frames to the host: partial checksums (NEEDS_CSUM) and GSO
super-frames. `capture` records what reaches a VM's eth0. The checks are in the test."""
import fcntl
import json
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_UDP_L4 = 0, 1, 5
GSO_SIZE = 1000   # the cases' segment size


def csum16(data, s=0):
    if len(data) % 2:
        data += b"\0"
    s += sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(src, dst, proto, length):
    return csum16(socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length))


def frame(smac, dmac, src, dst, proto, l4hdr, payload):
    """Ethernet/IPv4/L4 with the L4 checksum field holding the partial (pseudo-header) sum."""
    l4len = len(l4hdr) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + l4len, 1, 0x4000, 64, proto, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", ~csum16(ip) & 0xFFFF) + ip[12:]
    off = 16 if proto == 6 else 6
    l4hdr = l4hdr[:off] + struct.pack("!H", pseudo(src, dst, proto, l4len)) + l4hdr[off + 2:]
    return bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + \
        b"\x08\x00" + ip + l4hdr + payload


def tcp_hdr(sport, dport, seq):
    return struct.pack("!HHIIHHHH", sport, dport, seq, 1, (5 << 12) | 0x18, 65535, 0, 0)


def udp_hdr(sport, dport, length):
    return struct.pack("!HHHH", sport, dport, 8 + length, 0)


def vnet(gso_type=GSO_NONE, hdr_len=0, gso_size=0, csum_offset=16):
    return struct.pack("<BBHHHH", NEEDS_CSUM, gso_type, hdr_len, gso_size, 34, csum_offset)


def cases(smac, dmac, src, dst):
    """[(name, vnet header + frame, the payloads the receiver must see in order)]."""
    pay = lambda n, tag: (tag * (n // len(tag) + 1))[:n]
    out = []
    p = pay(1000, b"tcp-partial.")
    out.append(("tcp_partial", vnet() + frame(smac, dmac, src, dst, 6, tcp_hdr(40000, 5999, 1000), p), [p]))
    p = pay(1200, b"udp-partial.")
    out.append(("udp_partial", vnet(csum_offset=6) +
                frame(smac, dmac, src, dst, 17, udp_hdr(40001, 5998, len(p)), p), [p]))
    p = pay(2800, b"tcp-gso.")
    out.append(("tcp_gso", vnet(GSO_TCPV4, 54, 1000) +
                frame(smac, dmac, src, dst, 6, tcp_hdr(40002, 5999, 5000), p),
                [p[i:i + 1000] for i in range(0, len(p), 1000)]))
    p = pay(2500, b"udp-gso.")
    out.append(("udp_gso", vnet(GSO_UDP_L4, 42, 1000, 6) +
                frame(smac, dmac, src, dst, 17, udp_hdr(40003, 5998, len(p)), p),
                [p[i:i + 1000] for i in range(0, len(p), 1000)]))
    return out


def write(dev, smac, dmac, src, dst):
    fd = open("/dev/net/tun", "r+b", buffering=0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    print("ready", flush=True)
    for line in sys.stdin:           # one line per round: write every case once
        if line.strip() == "quit":
            break
        for name, buf, _ in cases(smac, dmac, src, dst):
            fd.write(buf)
        print("written", flush=True)


def capture(seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind(("eth0", 0))
    s.settimeout(0.2)
    frames, t_end = [], time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < t_end:
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != socket.PACKET_OUTGOING:
            frames.append(data.hex())
    print(json.dumps(frames), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(*sys.argv[2:7])
    else:
        capture(float(sys.argv[2]))
