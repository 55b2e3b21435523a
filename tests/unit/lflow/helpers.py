"""Shared test data: an environment for the capture, port keys, packet strategies."""
import random
import zlib

from hypothesis import strategies as st

from controller.lflow.evaluator import new_packet, write_field
from controller.lflow.passes import Env
from controller.lflow.symbols import FLOW_MEMBERS, default_symtab

SYMTAB = default_symtab()
ENV = Env(address_sets={"svc_monitor_mac": ("42:1b:8d:7e:4f:10",),
                        "as1": ("10.0.0.1", "10.0.0.0/8", "10.0.1.5")},
          port_groups={"pg1": ("lsp-vm1", "lsp-vm2")})

PORT_KEYS = {"none": 0, "lsp-vm1": 1, "lsp-vm2": 2, "lsp-vm3": 3, "lsp-vm4": 4, "ls1-lr1": 5,
             "lsp-vm5": 1, "lsp-vm6": 2, "ls2-lr1": 3, "lrp-ls1": 1, "lrp-ls2": 2,
             "_MC_flood": 32768, "_MC_flood_l2": 32769}


def port_key(name: str) -> int:
    if name in PORT_KEYS:
        return PORT_KEYS[name]
    return zlib.crc32(name.encode()) & 0x7fff | 0x100


def packets_near(dnf):
    """Random packets, half of them nudged towards one conjunction of `dnf`, so both
    matching and almost-matching packets are common. Hypothesis draws only a seed: a
    drawn dict of 54 members made the capture-wide property tests ten times slower."""
    @st.composite
    def build(draw):
        rng = random.Random(draw(st.integers(0, 2**64)))
        pkt = new_packet(**{name: rng.choice((0, rng.getrandbits(width)))
                            for name, width in FLOW_MEMBERS.items()})
        if dnf.conjs and rng.random() < 0.5:
            for field, value, mask in rng.choice(dnf.conjs):
                if rng.random() < 0.1:
                    continue  # leave one term unsatisfied now and then
                fld = SYMTAB.fields[field]
                if mask is None:
                    write_field(pkt, fld, port_key(value))
                else:
                    write_field(pkt, fld, value, mask)
        return pkt
    return build()
