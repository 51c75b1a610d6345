# The kernel backend (twshim --cgroup) under the same faults: the agent
# destroys a client's TIME_WAIT only when the connection negotiated
# timestamps and once it is older than the reuse quarantine, so late
# duplicates (0-5 and 0-50 ms) find no new connection on a four-tuple
# PAWS cannot guard.  10 local ports, MTU 9000, 5% duplicates, request and
# response.  With timestamps the ports must carry a good share of the
# connections (bare: 10); without, the TIME_WAIT stays and they may run out.
. tests/integration/lib.sh
. tests/integration/faults.sh

[ "${SANITIZER:-plain}" = asan ] && skip "the kernel backend does not use the library (plain run only)"

for ts in 1 0; do
	min=0
	[ "$ts" = 1 ] && min=25
	for late in 0-5 0-50; do
		faults_link "$ts" --mtu 9000 --seed 3 --dup 5 --dup-delay "$late"
		cell "cgroup-ts$ts-late$late" cgroup "$min" 1000 -m rr -q 65536 -r 65536 -t 3000
	done
done
faults_verdict
