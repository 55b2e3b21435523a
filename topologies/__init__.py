"""The testbed around ovnbpf (not part of the product): labs of OVN chassis in network
namespaces (`lab`), the benchmarks that need a lab or a real northd (`bench`), Mininet
versions of the lab topologies (`mininet`), and the topology YAML files themselves.
The product (controller/, datapath/) never imports it; it adds `ovnbpf lab`, `ovnbpf demo`
and `ovnbpf bench compile|control|lab|soak` through entry points (pyproject.toml)."""
