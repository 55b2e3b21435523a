"""The OVN central node: real NB and SB ovsdb-servers (SB plain or a 3-member Raft cluster)
and a real ovn-northd, all in the root network namespace, tracked by pidfile.

Chassis in other namespaces reach the SB over TCP on `sb_ip` (the underlay bridge address):
127.0.0.1 of the root namespace is not reachable from inside another namespace. With
`sb_ssl`, that remote is SSL/TLS instead (`pssl:`), with a lab PKI made by openssl in
`rundir/pki`: one CA, a certificate for the SB servers and one per chassis.
"""

import socket
from dataclasses import dataclass
from pathlib import Path

from .proc import CommandError, alive, read_pidfile, run, stop_pids, wait_for

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"
SB_PORT = 6642
RAFT_BASE_PORT = 6643     # raft peers listen on 127.0.0.1:RAFT_BASE_PORT+i (root netns only)


def free_port_base(count, start=16000, stop=30000):
    """A base port with base+1..base+count free on 127.0.0.1: the Raft peers of a central
    made beside others (labs, tests, bench scale)."""
    for base in range(start, stop, 10):
        socks = []
        try:
            for i in range(1, count + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} free ports in {start}..{stop} on 127.0.0.1 for Raft peers")


@dataclass
class Central:
    """Paths and remotes of one central node living in `rundir`."""
    rundir: Path
    sb_cluster: int = 1
    sb_ip: str | None = None       # also listen for chassis on tcp:sb_ip:SB_PORT(+i)
    raft_port_base: int = RAFT_BASE_PORT
    sb_ssl: bool = False

    @property
    def pki(self):
        return self.rundir / "pki"

    @property
    def nb_remote(self):
        return f"unix:{self.rundir}/nb.sock"

    def _sb_names(self):
        return ["sb"] if self.sb_cluster == 1 else [f"sb{i}" for i in range(1, self.sb_cluster + 1)]

    @property
    def sb_remote(self):
        """Local (unix) SB remote(s), comma-separated for a cluster: for tools in the root netns."""
        return ",".join(f"unix:{self.rundir}/{n}.sock" for n in self._sb_names())

    @property
    def sb_chassis_remote(self):
        """The SB remote(s) chassis use from their namespaces (tcp:, or ssl: with sb_ssl)."""
        if not self.sb_ip:
            return None
        scheme = "ssl" if self.sb_ssl else "tcp"
        return ",".join(f"{scheme}:{self.sb_ip}:{SB_PORT + i}" for i in range(len(self._sb_names())))

    def env(self):
        """Environment for ovn-nbctl/ovn-sbctl/ovn-trace pointing at this central."""
        return {"OVN_NB_DB": self.nb_remote, "OVN_SB_DB": self.sb_remote}

    def pidfiles(self):
        names = ["northd", "nb", *self._sb_names()]
        return [self.rundir / f"{n}.pid" for n in names]

    def pids(self):
        return {p.stem: read_pidfile(p) for p in self.pidfiles()}

    # ---- start/stop ----------------------------------------------------------------------

    def _ovsdb_server(self, name, db, remotes, ssl=False):
        args = ["ovsdb-server", "--detach", "--no-chdir", f"--pidfile={self.rundir}/{name}.pid",
                f"--unixctl={self.rundir}/{name}.ctl", f"--remote=punix:{self.rundir}/{name}.sock",
                *(f"--remote={r}" for r in remotes),
                "-vconsole:off", "-vfile:info", f"--log-file={self.rundir}/{name}.log", str(db)]
        if ssl:
            key, cert, ca = self.ssl_files("sb")
            args[1:1] = [f"--private-key={key}", f"--certificate={cert}", f"--ca-cert={ca}"]
        run(args)

    def start_sb_member(self, name):
        """Start (or restart, on its existing DB file) one SB ovsdb-server: `sb` or `sbN`."""
        i = self._sb_names().index(name)
        scheme = "pssl" if self.sb_ssl else "ptcp"
        remotes = [f"{scheme}:{SB_PORT + i}:{self.sb_ip}"] if self.sb_ip else []
        self._ovsdb_server(name, self.rundir / f"{name}.db", remotes, ssl=self.sb_ssl)

    # ---- PKI (sb_ssl) --------------------------------------------------------------------

    def ssl_files(self, name):
        """(private key, certificate, CA certificate) of `name` ("sb" or a chassis)."""
        return (self.pki / f"{name}-privkey.pem", self.pki / f"{name}-cert.pem",
                self.pki / "ca-cert.pem")

    def make_ca(self, pki=None, cn="ovnbpf lab CA"):
        """A self-signed CA (EC P-256: quick to make) in `pki` (default: ours)."""
        pki = Path(pki or self.pki)
        pki.mkdir(parents=True, exist_ok=True)
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(pki / "ca-privkey.pem"), "-out", str(pki / "ca-cert.pem"),
             "-days", "30", "-subj", f"/CN={cn}"])

    def issue_cert(self, name, pki=None):
        """A key and a certificate for `name` (CN), signed by the CA in `pki`."""
        pki = Path(pki or self.pki)
        key, cert = pki / f"{name}-privkey.pem", pki / f"{name}-cert.pem"
        csr = pki / f"{name}.csr"
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}"])
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca-cert.pem"),
             "-CAkey", str(pki / "ca-privkey.pem"), "-CAcreateserial", "-days", "30",
             "-out", str(cert)])
        csr.unlink()
        return key, cert, pki / "ca-cert.pem"

    def start(self):
        self.rundir.mkdir(parents=True, exist_ok=True)
        nb_db = self.rundir / "nb.db"
        run(["ovsdb-tool", "create", str(nb_db), NB_SCHEMA])
        self._ovsdb_server("nb", nb_db, [])
        names = self._sb_names()
        if self.sb_cluster == 1:
            run(["ovsdb-tool", "create", str(self.rundir / "sb.db"), SB_SCHEMA])
        else:
            first = f"tcp:127.0.0.1:{self.raft_port_base + 1}"
            run(["ovsdb-tool", "create-cluster", str(self.rundir / "sb1.db"), SB_SCHEMA, first])
            for i in range(2, self.sb_cluster + 1):
                run(["ovsdb-tool", "join-cluster", str(self.rundir / f"sb{i}.db"), "OVN_Southbound",
                     f"tcp:127.0.0.1:{self.raft_port_base + i}", first])
        if self.sb_ssl:
            self.make_ca()
            self.issue_cert("sb")
        for name in names:
            self.start_sb_member(name)
        if self.sb_cluster > 1:
            for name in names:
                run(["ovsdb-client", "wait", f"unix:{self.rundir}/{name}.sock",
                     "OVN_Southbound", "connected"], timeout=30)
        self.start_northd()
        self.nbctl("--wait=sb", "sync", timeout=30)

    def start_northd(self):
        run(["ovn-northd", "--detach", "--no-chdir", f"--pidfile={self.rundir}/northd.pid",
             f"--unixctl={self.rundir}/northd.ctl", f"--ovnnb-db={self.nb_remote}",
             f"--ovnsb-db={self.sb_remote}", "-vconsole:off",
             f"--log-file={self.rundir}/northd.log"])

    def stop_northd(self):
        """Stop northd by its pidfile (an outage: `start_northd` brings it back)."""
        stop_pids([read_pidfile(self.rundir / "northd.pid")])
        (self.rundir / "northd.pid").unlink(missing_ok=True)

    def stop(self):
        """Stop our daemons by pidfile: northd first so it does not write to a dying SB."""
        pidfiles = self.pidfiles()
        stop_pids([read_pidfile(pidfiles[0])])
        stop_pids([read_pidfile(p) for p in pidfiles[1:]])
        for p in pidfiles:
            p.unlink(missing_ok=True)

    def healthy(self):
        return all(pid and alive(pid) for pid in self.pids().values())

    # ---- clients -------------------------------------------------------------------------

    def nbctl(self, *args, timeout=60):
        return run(["ovn-nbctl", f"--db={self.nb_remote}", *args], timeout=timeout)

    def sbctl(self, *args, timeout=60):
        return run(["ovn-sbctl", f"--db={self.sb_remote}", *args], timeout=timeout)

    def chassis_names(self):
        try:
            out = self.sbctl("--bare", "--columns=name", "list", "Chassis", timeout=10)
        except CommandError:
            return set()
        return {line.strip() for line in out.splitlines() if line.strip()}

    def wait_chassis(self, names, timeout=30):
        wait_for(lambda: set(names) <= self.chassis_names(), timeout,
                 interval=0.05, what=f"chassis {', '.join(sorted(names))} to register in the SB")

    def wait_ports_up(self, ports, timeout=30):
        """Every named logical switch port is bound and up (northd copies Port_Binding.up
        into the NB once a chassis claimed it)."""
        def all_up():
            out = self.nbctl("--bare", "--columns=name,up", "list", "Logical_Switch_Port")
            words = out.split()
            up = {words[i] for i in range(len(words) - 1) if words[i + 1] == "true"}
            return set(ports) <= up
        wait_for(all_up, timeout, interval=0.05, what=f"ports {', '.join(sorted(ports))} to be up")

    # ---- Raft ----------------------------------------------------------------------------

    def cluster_leader(self):
        """Name (sbN) of the current Raft leader, or None."""
        for name in self._sb_names():
            try:
                out = run(["ovs-appctl", "-t", f"{self.rundir}/{name}.ctl",
                           "cluster/status", "OVN_Southbound"], timeout=5)
            except (CommandError, OSError):
                continue
            if "Role: leader" in out:
                return name
        return None

    def kill_member(self, name):
        """Stop one SB server or cluster member (for failover tests)."""
        stop_pids([read_pidfile(self.rundir / f"{name}.pid")])
        (self.rundir / f"{name}.pid").unlink(missing_ok=True)   # ovsdb-server removes it itself

    def restart_sb(self, name="sb"):
        """Stop an SB server and start it again on the same DB file (clients reconnect)."""
        self.kill_member(name)
        self.start_sb_member(name)
