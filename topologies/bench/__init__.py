"""Benchmarks that need a lab or a real ovn-northd: `ovnbpf bench compile|control|lab|soak`."""
