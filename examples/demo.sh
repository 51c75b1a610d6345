#!/bin/sh
# demo.sh BUILD - TIME_WAIT trouble in two legacy programs, without and with
# twshim, each run in a fresh private network namespace (loopback only).
set -eu
B=${1:-build}
B=$(cd "$B" && pwd)
N=${DEMO_REQUESTS:-2000}
RANGE=${DEMO_RANGE:-"40000 40499"}

if [ "$(id -u)" -eq 0 ]; then NETNS="unshare -n"; else NETNS="unshare -rn"; fi

# netns SCRIPT: run a shell snippet in a namespace of its own.
netns() {
	$NETNS env B="$B" N="$N" RANGE="$RANGE" sh -c "
		set -eu
		ip link set lo up
		sysctl -qw net.ipv4.ip_local_port_range='$RANGE'
		sysctl -qw net.ipv4.tcp_tw_reuse=0
		$1"
}

ports=$(echo "$RANGE" | awk '{ print $2 - $1 + 1 }')
cat <<EOT
== 1. A client that opens a new connection per request
   examples/legacy_client, $N requests to one server, closing first each time.
   The namespace has $ports local ports (ip_local_port_range $RANGE) and
   tcp_tw_reuse = 0, so each closed connection holds its port in TIME_WAIT
   for 60 seconds.

EOT
exhaust='
	"$B/examples/legacy_server" 9000 >/dev/null & server=$!
	sleep 0.3
	$PREFIX "$B/examples/legacy_client" -n "$N" 127.0.0.1 9000 || true
	echo "   TIME_WAIT sockets left: $(ss -Htan state time-wait | wc -l)"
	kill $server'
printf '   without twshim:\n   '
netns "PREFIX=; $exhaust"
printf '\n   with twshim (built-in default policy: [client *] close = fin-then-reset):\n   '
netns "PREFIX='$B/twshim -q --'; $exhaust"

cat <<EOT

== 2. A server restarted while its last connections are in TIME_WAIT
   examples/legacy_server closes first (-m close), so TIME_WAIT lands on its
   port; it sets no SO_REUSEADDR.  It serves one request, exits, and is
   started again at once.

EOT
restart='
	$PREFIX "$B/examples/legacy_server" -m close -n 1 9001 >/dev/null & server=$!
	sleep 0.3
	"$B/examples/legacy_client" -q -w 127.0.0.1 9001
	wait $server
	echo "   TIME_WAIT on port 9001: $(ss -Htan state time-wait "sport = :9001" | wc -l)"
	if $PREFIX "$B/examples/legacy_server" -m close -n 1 9001 >/dev/null 2>"$B/restart.err" & then
		server=$!; sleep 0.3
		if kill -0 $server 2>/dev/null; then
			echo "   restart: listening again"
			"$B/examples/legacy_client" -q -w 127.0.0.1 9001; wait $server
		else
			wait $server || true
			echo "   restart: $(cat "$B/restart.err")"
		fi
	fi'
printf '   without twshim:\n'
netns "PREFIX=; $restart"
printf '\n   with twshim (built-in default policy: [listener *] reuseaddr = yes):\n'
netns "PREFIX='$B/twshim -q --'; $restart"
echo
