"""`ovnbpf bench WHAT --plot FILE`: a benchmark's figures as an SVG of bar charts, written by
hand (no plotting library on a hypervisor): one panel per group of numbers (a dict of
figures: pps by path, Gb/s by path...), one bar per figure, its value printed beside it.
Strings, lists and booleans are not figures and are left out."""
from __future__ import annotations

from html import escape

BAR_H, GAP, LABEL_W, BAR_W, PAD = 16, 4, 260, 360, 10


def panels(figures: dict, title: str = "") -> list:
    """[(panel title, [(label, value)])]: the top level's loose numbers in one panel, each
    nested dict of numbers in its own (deeper dicts flattened into "a.b" labels)."""
    def numbers(d, prefix=""):
        out = []
        for k, v in d.items():
            if isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                out.append((prefix + str(k), float(v)))
            elif isinstance(v, dict):
                out += numbers(v, f"{prefix}{k}.")
        return out
    loose = [(k, float(v)) for k, v in figures.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = [(title or "figures", loose)] if loose else []
    out += [(str(k), numbers(v)) for k, v in figures.items() if isinstance(v, dict) and numbers(v)]
    return out


def svg(figures: dict, title: str = "") -> str:
    rows, y = [], PAD
    width = LABEL_W + BAR_W + 120
    for name, bars in panels(figures, title):
        rows.append(f'<text x="{PAD}" y="{y + 14}" font-weight="bold">{escape(name)}</text>')
        y += 22
        top = max((abs(v) for _, v in bars), default=0) or 1.0
        for label, v in bars:
            w = max(1, int(BAR_W * abs(v) / top))
            rows.append(f'<text x="{LABEL_W - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>')
            rows.append(f'<rect x="{LABEL_W}" y="{y}" width="{w}" height="{BAR_H}" fill="steelblue">'
                        f'<title>{escape(label)} = {v:g}</title></rect>')
            rows.append(f'<text x="{LABEL_W + w + 6}" y="{y + 12}">{v:g}</text>')
            y += BAR_H + GAP
        y += 12
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + PAD}" '
            f'font-family="Helvetica, sans-serif" font-size="11">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(rows) + "\n</svg>\n")
