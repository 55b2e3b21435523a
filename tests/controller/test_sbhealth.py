"""The words the controller uses for an SB session's failures and state (pure parts)."""
import errno

import ovs.reconnect

from controller.ctl import format_text
from controller.db.sbhealth import _reason


def test_failure_reasons_name_the_cause():
    assert _reason("CONNECTING", errno.ECONNREFUSED, 5000) == "Connection refused"
    assert _reason("ACTIVE", ovs.reconnect.EOF, 5000) == "connection closed by the server"
    assert _reason("IDLE", 0, 5000) == "no reply to the inactivity probe within 5 s"
    assert _reason("CONNECTING", 0, 5000) == "connection attempt timed out"


def test_ctl_says_when_the_server_does_not_answer():
    sb = {"remote": "tcp:192.0.2.1:6642", "member": "tcp:192.0.2.1:6642", "connected": True,
          "rx_bytes": 10, "connections": 1, "state": "probe_unanswered",
          "last_message_s_ago": 6.2, "attempts": 0, "last_failure": None,
          "probe_interval_ms": 5000}
    status = {"chassis": "hv1", "pid": 1, "pin_dir": "/x", "sb": sb,
              "counters": {"recompiles": 1, "map_updates": 2},
              "live": {"stats": {}, "drops": {}, "lflows": [], "stages": []}}
    text = format_text(status)
    assert "NOT ANSWERING" in text and "last message 6.2 s ago" in text
    sb.update(connected=False, state="backoff", attempts=3, last_failure="Connection refused")
    text = format_text(status)
    assert "DISCONNECTED" in text and "3 attempt(s)" in text and "Connection refused" in text
