# Late duplicates on a fast link, without TCP timestamps: the cell where a
# close that leaves no TIME_WAIT let the previous connection's bytes into a
# new one on the same four-tuple (the peer read them as its own, with no
# error).  MTU 9000, 64 KiB each way, 10 local ports, 5% of the packets
# duplicated and delivered 0-5 ms late.  Without timestamps nothing but
# TIME_WAIT guards the four-tuple, so here the ports may run out
# (EADDRNOTAVAIL), as they do bare; no stream may carry a foreign byte.
. tests/integration/lib.sh
. tests/integration/faults.sh

faults_link 0 --mtu 9000 --seed 1 --dup 5 --dup-delay 0-5
# The reference: bare, each four-tuple held by the client's TIME_WAIT, so
# the 10 ports carry 10 connections and the rest fail at once.
cell bare-10-ports bare 0 2000 -m rr -q 65536 -r 65536 -t 3000
# Bare with ports to spare: thousands of streams through the same faults,
# and the harness finds nothing foreign in them.
sysctl -qw net.ipv4.ip_local_port_range="30000 34999"
cell bare-5000-ports bare 100 2000 -m rr -q 65536 -r 65536 -t 3000
sysctl -qw net.ipv4.ip_local_port_range="40000 40009"
cell default default 0 2000 -m rr -q 65536 -r 65536 -t 3000
cell pool pool 0 2000 -m rr -q 65536 -r 65536 -t 3000
faults_verdict
