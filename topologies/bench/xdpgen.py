"""The lab benchmark's packet sender, run inside a VM's namespace (`ip netns exec`).

It inherits the fd of an already loaded XDP program (bpf/bench/lab_traffic.c: obl_gen)
and runs it with BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES: every repetition is a
real frame that the program redirects out of the VM's interface. The redirect target is
an ifindex, which the kernel resolves in the caller's namespace, hence the child process.
Stops by itself: at the deadline or after --max-frames, whichever comes first. Prints one
JSON line: {"sent": frames the program ran, "seconds": wall time of the runs,
"cpu_seconds": CPU time this process got meanwhile (forwarding done inline in its softirqs
included; work deferred to ksoftirqd or done by other processes not)}.
"""
import argparse
import json
import sys
import time

BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1
FRAME_LEN = 64


def send(prog_fd, seconds, max_frames, batch=64, rate=0):
    from datapath.libbpf import check, ffi, lib
    frame = ffi.new("uint8_t[]", FRAME_LEN)       # contents come from the template map
    opts = ffi.new("struct bpf_test_run_opts *")
    opts.sz = ffi.sizeof("struct bpf_test_run_opts")
    opts.data_in = frame
    opts.data_size_in = FRAME_LEN
    opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES
    opts.batch_size = batch
    sent, repeat = 0, (max(batch, int(rate * 0.02)) if rate else 1 << 14)
    t0 = time.monotonic()
    deadline = t0 + seconds
    while sent < max_frames:
        opts.repeat = min(repeat, max_frames - sent)
        t = time.monotonic()
        check(lib.bpf_prog_test_run_opts(prog_fd, opts), "bpf_prog_test_run_opts")
        sent += opts.repeat
        now = time.monotonic()
        if now >= deadline:
            break
        if rate:
            # paced: bursts of `batch` frames, sleeping until the next burst is due
            repeat = max(batch, int(rate * 0.02))   # a call costs ~ms (page pool setup)
            due = t0 + sent / rate
            if due > now:
                time.sleep(min(due, deadline) - now)
                if time.monotonic() >= deadline:
                    break
            continue
        # as fast as possible: size the next call to ~50 ms, never past the deadline
        speed = opts.repeat / max(now - t, 1e-6)
        repeat = max(1024, int(speed * min(0.05, deadline - now)))
    return sent, time.monotonic() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prog-fd", type=int, required=True)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--max-frames", type=int, default=50_000_000)
    p.add_argument("--rate", type=float, default=0, help="frames/s (default: as fast as it can)")
    a = p.parse_args(argv)
    cpu0 = time.process_time()
    sent, seconds = send(a.prog_fd, a.seconds, a.max_frames, rate=a.rate)
    print(json.dumps({"sent": sent, "seconds": seconds,
                      "cpu_seconds": time.process_time() - cpu0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
