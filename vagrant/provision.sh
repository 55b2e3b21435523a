#!/usr/bin/env bash
# Provision one machine of a Vagrant lab, the way the README sets up a machine:
#   provision.sh ROOT central TOPOLOGY UNDERLAY        the OVN central (NB, SB, northd) + logical topology
#   provision.sh ROOT chassis NAME TOPOLOGY UNDERLAY   one chassis of the topology and its VMs
#   provision.sh ROOT down NODE                        undo this machine's role (central or a chassis name)
# ROOT is the project tree on the machine (/ovnbpf on Vagrant VMs). Reprovisioning rebuilds
# the role from scratch. State lives under /run/ovnbpf/vagrant-NODE.
set -euo pipefail
root=$1; role=$2; shift 2
cd "$root"

case "$role" in
    central) node=central ;;
    chassis) node=$1 ;;
    down)    node=${1:?provision.sh ROOT down NODE (central or a chassis name)} ;;
    *) echo "provision.sh: unknown role '$role' (central, chassis or down)" >&2; exit 2 ;;
esac
export OVNBPF_RUNDIR="/run/ovnbpf/vagrant-$node"     # one state per role, as lab names

if [ "$role" = down ]; then
    exec .venv/bin/python vagrant/node.py down
fi
bash .ci/setup
.venv/bin/python vagrant/node.py down >/dev/null
if [ "$role" = central ]; then
    exec .venv/bin/python vagrant/node.py central --topology "$1" --underlay "$2"
fi
exec .venv/bin/python vagrant/node.py chassis "$1" --topology "$2" --underlay "$3"
