"""`ovnbpf trace`: ovn-trace's DATAPATH MICROFLOW, answered by the real eBPF programs.

microflow (text -> one packet's fields) -> frame (scapy bytes) -> bind (SB: datapath,
inport, chassis) -> walk (each chassis' compiled pipeline in a private ChassisDatapath,
BPF_PROG_TEST_RUN, Geneve copies followed, multicast sent live) -> model (outputs, drops,
tunnels, stages) -> render (--minimal / --detailed / --json). oracle runs real ovn-trace
into the same model; compare diffs the two; matrix makes the lab's differential cases.
"""
