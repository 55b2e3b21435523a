"""A lab topology with every ovnbpf chassis' VIFs in skb mode (`vif_xdp: skb`: generic
XDP, outputs sent by TC, so guests keep TSO/GSO): the GSO and tap-VIF tests run on it."""
from pathlib import Path

import yaml

from topologies.lab.topology import resolve_path


def skb_topology(name: str, out_dir) -> Path:
    doc = yaml.safe_load(resolve_path(name).read_text())
    for spec in doc["chassis"].values():
        if spec.get("kind") == "ovnbpf":
            spec["vif_xdp"] = "skb"
    path = Path(out_dir) / f"{name}-skb.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
