"""The limits of one chassis, and the map sizes that follow the work below them.

A chassis programs the logical flows of its related datapaths. Three things bound it:
  lflows       lflow rows with entries (each gets a cookie 1..lflows: hit counter index,
               punt and drop attribution)
  entries      ovnbpf_pl_flows records (a row on N datapaths, or matching N addresses,
               is N records)
  datapaths    ovnbpf_pl_dps records (OVNBPF_PL_MAX_DPS)
The maps are not made at the limit: their sizes follow what the Southbound asks for
(`capacity`: a power of two with room to grow, never below a floor) and grow with a
pipeline rebuild when a change outgrows them (datapath/chassis.py). Only the limits are
hard. What does not fit them fails closed a datapath at a time (`admit`): a datapath
whose flows are left out has no pipeline record, so its packets are counted drops; never
a part of a datapath's flows, which could drop a deny and keep an allow.

`ovnbpf compile` and the controller use the same Limits and the same allocators, so the
CLI says exactly what the chassis would program.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

__all__ = ["Limits", "DEFAULT", "capacity", "map_sizes", "admit", "Admission"]

HITS_FLOOR = 1 << 16          # the hit counters' smallest size (per CPU: 512 KiB)
FLOWS_FLOOR = 1 << 16


@dataclass(frozen=True)
class Limits:
    lflows: int = 1 << 20       # cookies 1..lflows
    entries: int = 1 << 22
    datapaths: int = 4096       # OVNBPF_PL_MAX_DPS

    def cookie_limit(self) -> int:
        """StableIds' exclusive limit for cookies 1..lflows."""
        return self.lflows + 1


DEFAULT = Limits()


def capacity(needed: int, floor: int, ceiling: int) -> int:
    """Map size for `needed` slots: the power of two >= 2 x needed (room for growth
    without a rebuild), at least `floor`, at most `ceiling`."""
    size = floor
    while size < 2 * needed and size < ceiling:
        size *= 2
    return min(size, max(ceiling, needed))


def map_sizes(entries: dict, max_cookie: int, limits: Limits = DEFAULT) -> dict[str, int]:
    """The sizes a pipeline build gets (datapath/chassis.py: its -D defines) for `entries`
    ({map name: records}) and cookies up to `max_cookie`: room to grow, within `limits`."""
    return {"lflow_hits": capacity(max_cookie + 1, HITS_FLOOR, limits.lflows + 1),
            "pl_flows": capacity(len(entries.get("ovnbpf_pl_flows", ())), FLOWS_FLOOR,
                                 limits.entries)}


@dataclass(frozen=True)
class Admission:
    """Which datapaths fit. `refused`: datapath names left out; `reached`: {limit name:
    (limit, what all datapaths would need)} of the limits that refused them."""
    refused: tuple[str, ...] = ()
    reached: tuple[tuple[str, int, int], ...] = ()

    def message(self) -> str:
        what = ", ".join(f"{name} {limit} (needs {need})" for name, limit, need in self.reached)
        names = ", ".join(self.refused[:10]) + (f" and {len(self.refused) - 10} more"
                                                 if len(self.refused) > 10 else "")
        return (f"limit reached: {what}: {len(self.refused)} datapath(s) not programmed, "
                f"their packets are dropped: {names}")

    def report(self) -> dict:
        return {"reached": {n: {"limit": lim, "needed": need} for n, lim, need in self.reached},
                "refused_datapaths": list(self.refused)}


def admit(entries, limits: Limits, first=()) -> Admission:
    """entries: (datapath name, lflow uuid, keyed) per plan entry. Datapaths are taken in
    order (those in `first`, i.e. with ports bound here, then by name) while the lflows,
    entries and datapaths taken stay within the limits; the rest are refused."""
    uuids = collections.defaultdict(set)
    count = collections.Counter()
    for dp, uuid, keyed in entries:
        uuids[dp].add(uuid)
        count[dp] += keyed
    all_uuids = set().union(*uuids.values()) if uuids else set()
    need = (("lflows", limits.lflows, len(all_uuids)),
            ("entries", limits.entries, sum(count.values())),
            ("datapaths", limits.datapaths, len(uuids)))
    if all(n <= lim for _, lim, n in need):
        return Admission()
    first = set(first)
    taken, n_entries, refused = set(), 0, []
    n_dps = 0
    for dp in sorted(uuids, key=lambda d: (d not in first, d)):
        more = uuids[dp] - taken
        if (len(taken) + len(more) <= limits.lflows and n_entries + count[dp] <= limits.entries
                and n_dps < limits.datapaths):
            taken |= more
            n_entries += count[dp]
            n_dps += 1
        else:
            refused.append(dp)
    return Admission(tuple(refused), tuple(x for x in need if x[2] > x[1]))


def add_arguments(parser) -> None:
    """--max-lflows / --max-flow-entries / --max-datapaths, for the controller and the CLI."""
    parser.add_argument("--max-lflows", type=int, default=DEFAULT.lflows, metavar="N",
                        help=f"lflow rows this chassis programs at most (default {DEFAULT.lflows})")
    parser.add_argument("--max-flow-entries", type=int, default=DEFAULT.entries, metavar="N",
                        help=f"pipeline flow records at most (default {DEFAULT.entries})")
    parser.add_argument("--max-datapaths", type=int, default=DEFAULT.datapaths, metavar="N",
                        help=f"datapaths with flows at most (default and maximum {DEFAULT.datapaths})")


def from_args(args) -> Limits:
    limits = Limits(getattr(args, "max_lflows", DEFAULT.lflows),
                    getattr(args, "max_flow_entries", DEFAULT.entries),
                    getattr(args, "max_datapaths", DEFAULT.datapaths))
    if not (1 <= limits.lflows < 1 << 31 and 1 <= limits.entries < 1 << 31
            and 1 <= limits.datapaths <= DEFAULT.datapaths):
        raise ValueError(f"limits out of range: {limits}")
    return limits
