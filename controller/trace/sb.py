"""One Southbound snapshot for a trace (full monitor: a one-shot reader)."""
from ..db.reach import check_reachable
from ..db.southbound import Southbound

__all__ = ["snapshot"]


def snapshot(remote: str, timeout: float = 10.0):
    check_reachable(remote)     # a missing socket is an error now, not after `timeout`
    sb = Southbound(remote, chassis_name="", conditional=False)
    try:
        sb.run_until(sb.connected, timeout=timeout, what=f"the Southbound at {remote}")
        return sb.snapshot()
    finally:
        sb.close()
