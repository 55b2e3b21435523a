"""Is an OVSDB remote there at all? A one-shot command (`compile`, `trace`) asks before it
opens an IDL session, whose reconnect machine would retry a missing socket until the
command's timeout: a socket file that does not exist or refuses, or a TCP port nobody
listens on, is an error at once, named."""
import os
import socket

from .southbound import SouthboundError

CONNECT_TIMEOUT_S = 2.0


def _problem(member: str):
    """Why one remote (unix:PATH, tcp:/ssl:HOST:PORT) cannot be reached, or None."""
    kind, _, rest = member.partition(":")
    try:
        if kind == "unix":
            if not os.path.exists(rest):
                return f"{member}: no such socket"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(CONNECT_TIMEOUT_S)
                s.connect(rest)
            return None
        if kind in ("tcp", "ssl"):
            host, _, port = rest.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
                return None
    except (OSError, ValueError) as e:
        return f"{member}: {e.strerror or e}" if isinstance(e, OSError) else f"{member}: {e}"
    return None     # a kind we do not know how to probe: the IDL will say


def check_reachable(remote: str):
    """Raise SouthboundError naming each member when none of `remote`'s members answers."""
    members = [m.strip() for m in remote.split(",") if m.strip()]
    problems = [_problem(m) for m in members]
    if members and all(problems):
        raise SouthboundError("cannot reach the Southbound: " + "; ".join(problems)
                              + " (is ovsdb-server running? for a lab: eval \"$(ovnbpf lab env)\")")
