"""The chassis controller: what a hypervisor runs instead of ovn-controller + OVS."""
