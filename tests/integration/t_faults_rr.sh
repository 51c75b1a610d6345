# Request/response through late duplicates: 64 KiB up, 128 KiB down, MTU
# 9000, 10 local ports (the system range, then a local_ports pool), 5% of
# the packets duplicated and delivered 0-5 or 0-50 ms late, TCP timestamps
# on and off.  The peer reads every byte and EOF, no stream carries a
# foreign byte, none hangs; with timestamps on the pool must also carry a
# good share of the connections (PAWS and the reuse quarantine guard the
# four-tuple there).  Ten ports of the system range are too few for the
# library to trust the kernel's pick: those cells keep TIME_WAIT, as bare,
# and may run out of ports.  So one more cell has 500 ports, timestamps on:
# ports come back there, and every connection must complete.
. tests/integration/lib.sh
. tests/integration/faults.sh

faults_matrix rr 2 1500 -m rr -q 65536 -r 131072 -t 3000
faults_link 1 --mtu 9000 --seed 2 --dup 5 --dup-delay 0-5
sysctl -qw net.ipv4.ip_local_port_range="41000 41499"
cell "rr-ts1-late0-5-500ports" default 100 1500 -m rr -q 65536 -r 131072 -t 3000
faults_verdict
