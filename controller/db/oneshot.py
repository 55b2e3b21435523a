"""A one-shot Southbound reader: connect with a full (unconditional) monitor, take one
snapshot (rows.SBState), disconnect. For tools (`ovnbpf compile`, `ovnbpf trace`), benches
and tests; the controller keeps its session instead."""
from .southbound import Southbound

__all__ = ["snapshot"]


def snapshot(remote: str, timeout: float = 10.0):
    sb = Southbound(remote, chassis_name="", conditional=False)
    try:
        sb.run_until(sb.connected, timeout=timeout, what=f"the Southbound at {remote}")
        return sb.snapshot()
    finally:
        sb.close()
