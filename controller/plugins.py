"""Commands and benchmarks another installed package adds to `ovnbpf` (the testbed adds
`lab`, `demo` and the lab benchmarks), found by entry-point group so the product never
imports them (pyproject.toml lists them)."""
from importlib.metadata import entry_points

COMMANDS = "ovnbpf.commands"   # objects with help, add_arguments(parser), run(args), errors
BENCHES = "ovnbpf.benches"     # modules with HELP, bench(args), add_arguments(parser), ERRORS


def plugins(group):
    """{name: entry point} of an entry-point group, sorted by name (loaded by the caller)."""
    return {ep.name: ep for ep in sorted(entry_points(group=group), key=lambda ep: ep.name)}
