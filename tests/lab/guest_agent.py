"""A guest's traffic, run inside a VM namespace: `serve` answers TCP with the SHA-256 of
what it received and echoes UDP; `tcp` / `udp` are the clients (exit 0 = intact).

The guest's stack does what a real one does with the VM's offloads: TCP data leaves as
CHECKSUM_PARTIAL (and as GSO super-frames where the device allows), UDP too; the receiving
stack drops a segment whose checksum is wrong, so a completed transfer proves them right."""
import hashlib
import random
import socket
import sys
import threading


def _payload(n, seed=7):
    return random.Random(seed).randbytes(n)


def serve(port, lifetime=600):
    def tcp():
        try:    # IPv6 too where the guest has it (dual-stack labs)
            s = socket.create_server(("::", port), family=socket.AF_INET6,
                                     dualstack_ipv6=True, reuse_port=True)
        except OSError:
            s = socket.create_server(("0.0.0.0", port), reuse_port=True)
        while True:
            c, _ = s.accept()
            threading.Thread(target=answer, args=(c,), daemon=True).start()

    def answer(c):
        with c:
            h, n = hashlib.sha256(), 0
            while chunk := c.recv(1 << 16):
                h.update(chunk)
                n += len(chunk)
            c.sendall(f"{n} {h.hexdigest()}\n".encode())

    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        while True:
            data, peer = s.recvfrom(65535)
            s.sendto(data, peer)

    for fn in (tcp, udp):
        threading.Thread(target=fn, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait(lifetime)


def tcp_client(ip, port, nbytes):
    data = _payload(nbytes)
    with socket.create_connection((ip, port), timeout=10) as s:
        s.settimeout(30)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    want = f"{len(data)} {hashlib.sha256(data).hexdigest()}"
    if reply.decode().strip() != want:
        sys.exit(f"tcp: got {reply!r}, want {want}")


def udp_client(ip, port, sizes=(18, 1000, 1400), tries=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    for size in sizes:
        data = _payload(size, seed=size)
        for _ in range(tries):
            s.sendto(data, (ip, port))
            try:
                got, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            if got == data:
                break
        else:
            sys.exit(f"udp: no intact echo of {size} bytes")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "serve":
        serve(int(args[0]))
    elif cmd == "tcp":
        tcp_client(args[0], int(args[1]), int(args[2]))
    elif cmd == "udp":
        udp_client(args[0], int(args[1]))
