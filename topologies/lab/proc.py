"""Running commands and the daemons we start, always tracked by PID.

Daemons are started with --detach --pidfile so they outlive the Python process; we stop
them by the PID in their pidfile and nothing else (never by name or pattern).
"""
import os
import signal
import subprocess
import time

from controller.chassisd.pidfile import alive, read_pidfile  # noqa: F401 (the lab's callers import them from here)


class CommandError(RuntimeError):
    """A command we ran failed; carries its output so the caller can report it."""

    def __init__(self, argv, returncode, output):
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        super().__init__(f"{' '.join(self.argv)} exited {returncode}: {output.strip()[-800:]}")


def run(argv, netns=None, env=None, check=True, timeout=60, input=None):
    """Run argv (in network namespace `netns` if given); return its stdout as text."""
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    proc = subprocess.run(argv, capture_output=True, text=True, env=full_env,
                          timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout + proc.stderr)
    return proc.stdout


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate until it returns a true value; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def stop_pids(pids, grace=5.0):
    """SIGTERM each live pid, wait up to `grace` seconds, then SIGKILL what is left."""
    live = [p for p in pids if p and alive(p)]
    for pid in live:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = [p for p in live if alive(p)]
        if live:
            time.sleep(0.02)
    for pid in live:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
