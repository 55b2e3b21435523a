"""Pidfiles: is the process a pidfile names alive? (The controller refuses to start twice;
the testbed stops daemons by these PIDs and nothing else.)"""


def alive(pid):
    """True if pid runs and is not a zombie (the init here reaps detached daemons slowly)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None
