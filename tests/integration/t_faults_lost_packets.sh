# Targeted losses: the first FIN the client sends on each connection is
# lost, and so is the server's third packet.  Then a lossy, slow, jittery
# link that reorders and duplicates as well.  Under the default the client's
# close leaves no TIME_WAIT once its FIN is acknowledged; a lost FIN must
# only delay that: the FIN goes again and the server still reads every byte
# and EOF.  Ports to spare here (no four-tuple comes back); the forwarder's
# counters show that each connection lost exactly its FIN and one packet.
. tests/integration/lib.sh
. tests/integration/faults.sh

for shim in bare default; do
	faults_link 1 --seed 5 --drop up:fin --drop down:nth=3
	sysctl -qw net.ipv4.ip_local_port_range="30000 34999"
	cell "lost-fin-$shim" "$shim" 100 200 -m rr -q 4096 -r 65536 -t 2000 -- -P 4
	done=$(kv completed "$T/cli.out")
	faults_unlink >"$T/counters"
	cat "$T/counters"
	assert_eq "$(sed -n 's/^faultnet: up .* dropped=\([0-9]*\).*/\1/p' "$T/counters")" "$done" \
	    "$shim: FINs dropped, one a connection"
	assert_eq "$(sed -n 's/^faultnet: down .* dropped=\([0-9]*\).*/\1/p' "$T/counters")" "$done" \
	    "$shim: third packets dropped, one a connection"
done
# 1% lost, 1 ms delay plus up to 1 ms jitter, 2% reordered (held 1 ms
# more), 2% duplicated up to 20 ms late: every byte and EOF, bare or not.
# A connection counts as hung after 10 s without progress: a SYN lost
# twice is retransmitted only after 1 + 2 s, which a 3 s limit once
# called a hang in the bare cell.
counter() {	# counter DIRECTION NAME
	sed -n "s/^faultnet: $1 .* $2=\([0-9]*\).*/\1/p" "$T/counters"
}
for shim in bare default; do
	faults_link 1 --mtu 9000 --seed 6 --loss 1 --delay 1 --jitter 1 --reorder 2 \
	    --dup 2 --dup-delay 0-20
	sysctl -qw net.ipv4.ip_local_port_range="30000 34999"
	cell "lossy-$shim" "$shim" 100 300 -m rr -q 16384 -r 65536 -t 10000 -- -P 4
	faults_unlink >"$T/counters"
	cat "$T/counters"
	for d in up down; do
		for c in lost reordered duplicated; do
			assert_ge "$(counter $d $c)" 1 "$shim: packets $c $d"
		done
	done
done
faults_verdict
