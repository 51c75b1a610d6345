#!/bin/sh
# bench-inner.sh BUILD - the benchmarks, inside a private network namespace.
set -eu
B=$1
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
sysctl -qw net.ipv4.tcp_tw_reuse=1
LIB=$B/libtwshim.so
OPS=$B/bench/benchops
SW=/usr/lib/x86_64-linux-gnu/libsocket_wrapper.so
KA=/usr/lib/libkeepalive.so
SWDIR=$(mktemp -d)
trap 'rm -rf "$SWDIR"' EXIT

echo "twshim benchmarks, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) cores"
echo

# ---- 1. user-space instructions per call (callgrind) ----
ir() {	# ir [VAR=VALUE...] PROGRAM ARGS...: instructions of one run
	nvars=0
	for a in "$@"; do
		case $a in *=*) nvars=$((nvars + 1)) ;; *) break ;; esac
	done
	i=0
	for a in "$@"; do	# rebuild as VARS valgrind PROGRAM ARGS
		[ $i -eq $nvars ] && set -- "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null
		set -- "$@" "$a"
		i=$((i + 1))
	done
	shift $i
	env "$@" 2>&1 | sed -n 's/.*Collected : *//p'
}
per_call() {	# per_call ENV... : (Ir(11000) - Ir(1000)) / 10000 for $op
	a=$(ir "$@" "$OPS" $op 1000 $held)
	b=$(ir "$@" "$OPS" $op 11000 $held)
	echo $(((b - a) / 10000))
}
added() {	# added LABEL ENV... : instructions per call above bare
	label=$1
	shift
	base=$(per_call)
	with=$(per_call "$@")
	printf '  %-44s %6d %8d %8d\n' "$label" "$base" "$with" $((with - base))
}
echo "1. User-space instructions per call (callgrind; bare, preloaded, added)"
printf '  %-44s %6s %8s %8s\n' "" bare with added
held=
op=close
added "close() of a file: twshim, default policy" LD_PRELOAD=$LIB
added "close() of a file: socket_wrapper" LD_PRELOAD=$SW SOCKET_WRAPPER_DIR=$SWDIR
op=socket
added "socket()+close(), no rule matches: twshim" LD_PRELOAD=$LIB \
    TWSHIM_POLICY_TEXT='[client 192.0.2.1];close = abort'
added "socket()+close(): socket_wrapper" LD_PRELOAD=$SW SOCKET_WRAPPER_DIR=$SWDIR
added "socket()+close(): libkeepalive" LD_PRELOAD=$KA
op=connect
added "connect()+close(), close = abort: twshim" LD_PRELOAD=$LIB \
    TWSHIM_POLICY_TEXT='[client *];close = abort'
echo

# ---- 2. the table at scale ----
echo "2. The fd table at scale (entries without real descriptors: RLIMIT_NOFILE here is $(ulimit -Hn))"
"$B/bench/tablemem" mem 100000 | sed 's/^/  /'
small=$(( ($(ir "$B/bench/tablemem" lookup 10 11000) - $(ir "$B/bench/tablemem" lookup 10 1000)) / 10000 ))
large=$(( ($(ir "$B/bench/tablemem" lookup 100000 11000) - $(ir "$B/bench/tablemem" lookup 100000 1000)) / 10000 ))
printf '  lookup (lock, find, unlock): %d instructions with 10 sockets, %d with 100000\n' "$small" "$large"
held=
echo

# ---- 3. loopback connection churn ----
ROUNDS=${BENCH_ROUNDS:-7}
CONNS=${BENCH_CONNS:-5000}
"$B/examples/legacy_server" 9100 >/dev/null &
server=$!
sleep 0.3
rate() {	# rate ENV... : connections per second of one legacy_client run
	t0=$(date +%s%N)
	env "$@" "$client" -q -n "$CONNS" 127.0.0.1 9100
	t1=$(date +%s%N)
	echo $((CONNS * 1000000000 / (t1 - t0)))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: >"$SWDIR/bare"; : >"$SWDIR/empty"; : >"$SWDIR/abort"; : >"$SWDIR/native"
for r in $(seq 1 "$ROUNDS"); do
	client=$B/examples/legacy_client
	rate >>"$SWDIR/bare"
	rate LD_PRELOAD=$LIB TWSHIM_POLICY_TEXT='# empty' >>"$SWDIR/empty"
	rate LD_PRELOAD=$LIB TWSHIM_POLICY_TEXT='[client *];close = abort' >>"$SWDIR/abort"
	client=$B/bench/legacy_client_native
	rate >>"$SWDIR/native"
done
kill $server
b=$(median <"$SWDIR/bare"); e=$(median <"$SWDIR/empty")
a=$(median <"$SWDIR/abort"); n=$(median <"$SWDIR/native")
echo "3. Loopback churn, connections per second (median of $ROUNDS interleaved rounds of $CONNS)"
printf '  bare %d, twshim with an empty policy %d: ratio %s\n' "$b" "$e" \
    "$(echo "$e $b" | awk '{ printf "%.3f", $1 / $2 }')"
printf '  natively patched SO_LINGER {1,0} %d, twshim close = abort %d: ratio %s\n' "$n" "$a" \
    "$(echo "$a $n" | awk '{ printf "%.3f", $1 / $2 }')"
echo

# ---- 4. exhaustion through 500 ports ----
echo "4. 2000 sequential connections through 500 local ports, tcp_tw_reuse = 0"
printf '  %-42s %10s %10s\n' "" completed TIME_WAIT
# legacy_server waits for each client to close before the next accept, so
# a peer-first wait is paid once per connection: keep it short here.
for strategy in bare normal abort abort-if-idle "peer-first 5ms then abort" "graceful 1s"; do
	unshare -n sh -c '
		ip link set lo up
		sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
		sysctl -qw net.ipv4.tcp_tw_reuse=0
		"$0/examples/legacy_server" 9200 >/dev/null & s=$!
		sleep 0.3
		if [ "$1" = bare ]; then
			out=$("$0/examples/legacy_client" -n 2000 127.0.0.1 9200 || true)
		else
			out=$(env LD_PRELOAD="$0/libtwshim.so" TWSHIM_POLICY_TEXT="[client *];close = $1" \
			    "$0/examples/legacy_client" -n 2000 127.0.0.1 9200 || true)
		fi
		sleep 0.3
		done=$(echo "$out" | sed -n "s/.*: \([0-9]*\) of.*/\1/p")
		printf "  %-42s %10s %10s\n" "$1" "$done" "$(ss -Htan state time-wait | wc -l)"
		kill $s' "$B" "$strategy"
done
echo

# ---- 5. the reaper at scale ----
# The listener's accept queue bounds how many connections wait unaccepted;
# the child accepts them all, so N pending closes need N of its descriptors.
echo "5. close() with peer-first pending closes (median and 99th percentile of 2000, microseconds)"
printf '  %-42s %8s %8s\n' "" median p99
for n in 100 1000 8000; do
	set -- $(ulimit -n "$(ulimit -Hn)" && env LD_PRELOAD="$LIB" \
	    TWSHIM_POLICY_TEXT='[client *];close = peer-first 10m' "$B/bench/reaperload" $n 2000)
	printf '  %-42s %8s %8s\n' "$n pending" "$1" "$2"
done
set -- $("$B/bench/reaperload" 0 2000)
printf '  %-42s %8s %8s\n' "bare (no twshim, plain close)" "$1" "$2"
