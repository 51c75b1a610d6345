# Targeted losses: the first FIN the client sends on each connection is
# lost, and so is the server's third packet.  Under the default the client's
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
faults_verdict
