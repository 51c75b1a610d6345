#!/bin/sh
# cgroup-bench.sh BUILD [RUNS] - the kernel backend under load: a Go client
# makes 20,000 connections, 8 at a time, through 500 local ports
# (tcp_tw_reuse=0), under twshim --cgroup, RUNS times (10); each run's
# completed connections, lost events and the agent's CPU per destroyed
# TIME_WAIT, then how many runs completed everything.  Needs root.
set -eu
B=${1:-build}
B=$(cd "$B" && pwd)
RUNS=${2:-10}
if [ "$(id -u)" -ne 0 ]; then
	echo "cgroup-bench: twshim --cgroup needs root; skipped"
	exit 0
fi
exec unshare -n sh -c '
B=$1
RUNS=$2
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
sysctl -qw net.ipv4.tcp_tw_reuse=0
n=20000
ok=0
echo "== twshim --cgroup: Go client, $n connections, 8 at a time, 500 local ports"
for r in $(seq 1 "$RUNS"); do
	port=$((7400 + r))
	"$B/helpers/static/twserver" $port $n 100 >/tmp/cgbench.server.$$ &
	srv=$!
	sleep 0.2
	out=$("$B/twshim" --cgroup -- "$B/helpers/go/gochurn" 127.0.0.1:$port $n 100 8 2>&1) || true
	client=$(echo "$out" | sed -n "s/^client: \([0-9]*\) of.*/\1/p")
	lost=$(echo "$out" | sed -n "s/.*; \([0-9]*\) events lost.*/\1/p")
	cpu=$(echo "$out" | sed -n "s/.*agent CPU \([0-9.]*\) us.*/\1/p")
	kill $srv 2>/dev/null || true
	wait $srv 2>/dev/null || true
	left=$(ss -Htan state time-wait | wc -l)
	[ "$client" = "$n" ] && ok=$((ok + 1))
	echo "run $r: $client of $n completed, $lost events lost, $left TIME_WAIT left, agent ${cpu} us CPU per connection"
done
rm -f /tmp/cgbench.server.$$
echo "runs that completed all $n: $ok of $RUNS"
' sh "$B" "$RUNS"
