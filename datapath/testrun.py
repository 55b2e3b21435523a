"""BPF_PROG_TEST_RUN through libbpf's bpf_prog_test_run_opts (cffi), on any program fd
(bcc's included). Packet bytes in -> verdict, packet out, ns per run."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .libbpf import check, ffi, lib, verified_insns  # noqa: F401  (re-exported)

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
XDP_NAMES = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT = 0, 2, 7

# struct xdp_md as the kernel accepts it for ctx_in: data, data_end, data_meta,
# ingress_ifindex, rx_queue_index, egress_ifindex (the first three must be 0 / sizes).
_XDP_MD = struct.Struct("<6I")


@dataclass(frozen=True)
class Result:
    verdict: int
    packet: bytes
    duration_ns: int     # mean per repetition, as the kernel reports it
    repeat: int

    @property
    def verdict_name(self) -> str:
        return XDP_NAMES.get(self.verdict, str(self.verdict))


BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1


def run_live(prog_fd: int, packet: bytes, *, ingress_ifindex: int) -> int:
    """Run an XDP program once on `packet` as a live frame: XDP_REDIRECT and XDP_TX really
    transmit, XDP_PASS goes up the stack of `ingress_ifindex` (which must exist in this
    network namespace). No packet comes back; returns the run's retval (0 from the kernel:
    verdicts are not reported in this mode)."""
    data_in = ffi.from_buffer(packet)
    opts = ffi.new("struct bpf_test_run_opts *")
    opts.sz = ffi.sizeof("struct bpf_test_run_opts")
    opts.data_in = data_in
    opts.data_size_in = len(packet)
    opts.repeat = 1
    opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES
    ctx = ffi.new("uint8_t[]", _XDP_MD.pack(0, len(packet), 0, ingress_ifindex, 0, 0))
    opts.ctx_in = ctx
    opts.ctx_size_in = _XDP_MD.size
    check(lib.bpf_prog_test_run_opts(prog_fd, opts), "bpf_prog_test_run_opts (live frames)")
    return int(opts.retval)


def run(prog_fd: int, packet: bytes, *, repeat: int = 1, ingress_ifindex: int = 0,
        out_size: int | None = None) -> Result:
    """Run an XDP (or skb) program once or `repeat` times on `packet`.

    For XDP, `ingress_ifindex` fills xdp_md.ingress_ifindex (the device must exist in this
    network namespace; 1 = lo always does). Note: without live frames the kernel does not
    reset the frame between repetitions, so a program that grows or shrinks the packet
    sees its own output on the next one (use repeat=1 for such programs)."""
    size_out = out_size or len(packet) + 512
    data_in = ffi.from_buffer(packet)
    data_out = ffi.new("uint8_t[]", size_out)
    opts = ffi.new("struct bpf_test_run_opts *")
    opts.sz = ffi.sizeof("struct bpf_test_run_opts")
    opts.data_in = data_in
    opts.data_size_in = len(packet)
    opts.data_out = data_out
    opts.data_size_out = size_out
    opts.repeat = repeat
    if ingress_ifindex:
        ctx = ffi.new("uint8_t[]", _XDP_MD.pack(0, len(packet), 0, ingress_ifindex, 0, 0))
        opts.ctx_in = ctx
        opts.ctx_size_in = _XDP_MD.size
    check(lib.bpf_prog_test_run_opts(prog_fd, opts), "bpf_prog_test_run_opts")
    return Result(int(opts.retval), bytes(ffi.buffer(data_out, opts.data_size_out)),
                  int(opts.duration), repeat)
