"""The compiler's input record, `DpFlow`, and a reader for `ovn-sbctl lflow-list` text.

compile.chassis_flows (and the incremental compiler) build them from Southbound rows; the
text reader lets captures of real northd output drive tests and offline compiles.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["DpFlow", "read_lflow_list"]


@dataclass(frozen=True)
class DpFlow:
    """One Logical_Flow row on one logical datapath (a row on a datapath group gives one
    per member), named by the datapath's name: what the compiler works on. The SB row
    itself is db.rows.LogicalFlow."""
    datapath: str        # logical datapath name (external_ids:name), e.g. "ls1"
    pipeline: str        # "ingress" or "egress"
    table: int
    stage: str           # e.g. "ls_in_l2_lkup"
    priority: int
    match: str
    actions: str
    uuid: str            # Southbound row uuid, or a stable digest when the source had none

    @property
    def uuid8(self) -> str:
        return self.uuid.replace("-", "")[:8]


_DATAPATH_RE = re.compile(r'^Datapath: "(?P<dp>[^"]*)" \((?P<dpuuid>[^)]*)\)\s+Pipeline: (?P<pl>\w+)')
_FLOW_RE = re.compile(
    r"^\s+(?:uuid=0x(?P<uuid>[0-9a-f]+), )?table=(?P<table>\d+)\s*\((?P<stage>[^)]*?)\s*\),\s*"
    r"priority=(?P<prio>\d+)\s*,\s*match=\((?P<match>.*)\), action=\((?P<actions>.*)\)\s*$")


def _digest(*parts) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()[:32]


def read_lflow_list(text: str) -> list[DpFlow]:
    """Parse `ovn-sbctl lflow-list` output (with or without --uuid)."""
    flows = []
    datapath = pipeline = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _DATAPATH_RE.match(line)
        if m:
            datapath, pipeline = m["dp"], m["pl"]
            continue
        m = _FLOW_RE.match(line)
        if not m or datapath is None:
            raise ValueError(f"line {lineno}: not an lflow-list line: {line!r}")
        table, prio = int(m["table"]), int(m["prio"])
        uuid = m["uuid"] or _digest(datapath, pipeline, table, prio, m["match"], m["actions"])
        flows.append(DpFlow(datapath, pipeline, table, m["stage"], prio,
                                 m["match"], m["actions"], uuid))
    return flows
