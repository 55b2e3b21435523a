"""A one-shot Southbound reader: connect with a full (unconditional) monitor, take one
snapshot (rows.SBState), disconnect. For tools (`ovnbpf compile`, `ovnbpf trace`), benches
and tests; the controller keeps its session instead."""
from .reach import check_reachable
from .southbound import Southbound

__all__ = ["snapshot"]


def snapshot(remote: str, timeout: float = 10.0):
    check_reachable(remote)     # a missing socket is an error now, not after `timeout`
    sb = Southbound(remote, chassis_name="", conditional=False)
    try:
        sb.run_until(sb.connected, timeout=timeout, what=f"the Southbound at {remote}")
        return sb.snapshot()
    finally:
        sb.close()
