# Request/response through late duplicates: 64 KiB up, 128 KiB down, MTU
# 9000, 10 local ports (the system range, then a local_ports pool), 5% of
# the packets duplicated and delivered 0-5 or 0-50 ms late, TCP timestamps
# on and off.  The peer reads every byte and EOF, no stream carries a
# foreign byte, none hangs; with timestamps on the ports must also carry a
# good share of the connections (PAWS guards the four-tuple there).
. tests/integration/lib.sh
. tests/integration/faults.sh

for ts in 1 0; do
	min=0
	[ "$ts" = 1 ] && min=25
	for late in 0-5 0-50; do
		faults_link "$ts" --mtu 9000 --seed 2 --dup 5 --dup-delay "$late"
		cell "rr-ts$ts-late$late" default "$min" 1500 -m rr -q 65536 -r 131072 -t 3000
		cell "rr-ts$ts-late$late-pool" pool "$min" 1500 -m rr -q 65536 -r 131072 -t 3000
	done
done
faults_verdict
