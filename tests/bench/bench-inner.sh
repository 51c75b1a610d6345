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
op=open
added "open()+close() of a file: twshim" LD_PRELOAD=$LIB
op=pipe
added "pipe()+close() of both ends: twshim" LD_PRELOAD=$LIB
op=fopen
added "fopen()+fclose(): twshim" LD_PRELOAD=$LIB
op=read
added "read() of a file: twshim, default policy" LD_PRELOAD=$LIB
op=close
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
: >"$SWDIR/bare"; : >"$SWDIR/empty"; : >"$SWDIR/default"; : >"$SWDIR/abort"; : >"$SWDIR/native"
: >"$SWDIR/re"; : >"$SWDIR/rd"; : >"$SWDIR/ra"
ratio_to() { echo "$1 $2" | awk '{ printf "%.3f\n", $1 / $2 }'; }
for r in $(seq 1 "$ROUNDS"); do
	client=$B/examples/legacy_client
	c_bare=$(rate)
	c_empty=$(rate LD_PRELOAD=$LIB TWSHIM_POLICY_TEXT='# empty')
	c_default=$(rate LD_PRELOAD=$LIB)
	c_abort=$(rate LD_PRELOAD=$LIB TWSHIM_POLICY_TEXT='[client *];close = abort')
	client=$B/bench/legacy_client_native
	c_native=$(rate)
	echo "$c_bare" >>"$SWDIR/bare"; echo "$c_empty" >>"$SWDIR/empty"; echo "$c_default" >>"$SWDIR/default"
	echo "$c_abort" >>"$SWDIR/abort"; echo "$c_native" >>"$SWDIR/native"
	ratio_to "$c_empty" "$c_bare" >>"$SWDIR/re"; ratio_to "$c_default" "$c_bare" >>"$SWDIR/rd"
	ratio_to "$c_abort" "$c_native" >>"$SWDIR/ra"
done
kill $server
b=$(median <"$SWDIR/bare"); e=$(median <"$SWDIR/empty"); d=$(median <"$SWDIR/default")
a=$(median <"$SWDIR/abort"); n=$(median <"$SWDIR/native")
echo "3. Loopback churn, connections per second (median of $ROUNDS interleaved rounds of $CONNS)"
printf '  bare %d, twshim with an empty policy %d: ratio %s (of the rounds'"'"' ratios: median %s)\n' \
    "$b" "$e" "$(echo "$e $b" | awk '{ printf "%.3f", $1 / $2 }')" "$(median <"$SWDIR/re")"
printf '  bare %d, twshim with the built-in default (close = fin-then-reset) %d: ratio %s (median %s)\n' \
    "$b" "$d" "$(echo "$d $b" | awk '{ printf "%.3f", $1 / $2 }')" "$(median <"$SWDIR/rd")"
printf '  natively patched SO_LINGER {1,0} %d, twshim close = abort %d: ratio %s (median %s)\n' \
    "$n" "$a" "$(echo "$a $n" | awk '{ printf "%.3f", $1 / $2 }')" "$(median <"$SWDIR/ra")"
echo

# ---- 4. exhaustion through 500 ports ----
echo "4. 2000 sequential connections through 500 local ports, tcp_tw_reuse = 0"
printf '  %-42s %10s %10s\n' "" completed TIME_WAIT
# legacy_server waits for each client to close before the next accept, so
# a peer-first wait is paid once per connection: keep it short here.
for strategy in bare normal abort abort-if-idle fin-then-reset "fin-then-reset always" \
    "peer-first 5ms then abort" "peer-first 5ms then fin-then-reset" "graceful 1s"; do
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
for n in 100 1000 8000 10000; do
	set -- $(ulimit -n "$(ulimit -Hn)" && env LD_PRELOAD="$LIB" \
	    TWSHIM_POLICY_TEXT='[client *];close = peer-first 10m' "$B/bench/reaperload" $n 2000)
	printf '  %-42s %8s %8s\n' "$n pending" "$1" "$2"
done
set -- $("$B/bench/reaperload" 0 2000)
printf '  %-42s %8s %8s\n' "bare (no twshim, plain close)" "$1" "$2"

echo

# ---- 6. policy size ----
# 10,000 sections that a loopback connection does not match (hosts,
# subnets, ports and port ranges of every role) before the two it does.
sh "$(dirname "$0")/bigpolicy.sh" 10000 >"$SWDIR/big.conf"
sh "$(dirname "$0")/bigpolicy.sh" 2 >"$SWDIR/small.conf"
echo "6. connect()+accept()+close() of both ends, by the size of the policy"
cyc() {	# cyc POLICY: instructions per cycle
	a=$(ir LD_PRELOAD=$LIB TWSHIM_POLICY="$1" "$OPS" cycle 1000)
	b=$(ir LD_PRELOAD=$LIB TWSHIM_POLICY="$1" "$OPS" cycle 3000)
	echo $(((b - a) / 2000))
}
one=$(cyc "$SWDIR/small.conf"); big=$(cyc "$SWDIR/big.conf")
printf '  instructions per cycle: %d with 2 sections, %d with 10000: ratio %s\n' "$one" "$big" \
    "$(echo "$big $one" | awk '{ printf "%.2f", $1 / $2 }')"
ns() { date +%s%N; }
: >"$SWDIR/csmall"; : >"$SWDIR/cbig"; : >"$SWDIR/ssmall"; : >"$SWDIR/sbig"
for r in $(seq 1 "$ROUNDS"); do
	for conf in small big; do
		t0=$(ns)
		env LD_PRELOAD="$LIB" TWSHIM_POLICY="$SWDIR/$conf.conf" "$OPS" cycle 0
		echo $((($(ns) - t0) / 1000)) >>"$SWDIR/s$conf"
		env LD_PRELOAD="$LIB" TWSHIM_POLICY="$SWDIR/$conf.conf" "$OPS" cycle 2000 time \
		    >>"$SWDIR/c$conf"
	done
done
cs=$(median <"$SWDIR/csmall"); cb=$(median <"$SWDIR/cbig")
printf '  nanoseconds per cycle (median of %d interleaved rounds of 2000): %d with 2 sections, %d with 10000: ratio %s\n' \
    "$ROUNDS" "$cs" "$cb" "$(echo "$cb $cs" | awk '{ printf "%.3f", $1 / $2 }')"
a=$(ir LD_PRELOAD=$LIB TWSHIM_POLICY="$SWDIR/small.conf" "$OPS" cycle 0)
b=$(ir LD_PRELOAD=$LIB TWSHIM_POLICY="$SWDIR/big.conf" "$OPS" cycle 0)
printf '  start-up: %d instructions with 2 sections, %d with 10000 (parse and compile: %d per section)\n' \
    "$a" "$b" $(((b - a) / 10000))
printf '  start-up, wall clock (median): %d us with 2 sections, %d us with 10000\n' \
    "$(median <"$SWDIR/ssmall")" "$(median <"$SWDIR/sbig")"
echo

# ---- 7. the private port pool as it fills ----
# Ports are busy per destination: towards one listener the pool is first
# filled to 85%, towards another it starts empty, and connects to the two
# alternate, so both figures come from the same moments.
echo "7. connect() through a 1000-port local_ports pool outside the system range, tcp_tw_reuse = 0"
echo "   (median microseconds of 100 connect()s each, alternating between a destination whose"
echo "   4-tuples fill the pool from 0% and one from 85%; the client closes first: TIME_WAIT stays)"
unshare -n sh -c '
	ip link set lo up
	sysctl -qw net.ipv4.ip_local_port_range="40000 49999"
	sysctl -qw net.ipv4.tcp_tw_reuse=0
	pids=
	for p in 9300 9301 9302 9303 9304; do
		"$0/examples/legacy_server" $p >/dev/null &
		pids="$pids $!"
	done
	sleep 0.3
	med() { sort -n | awk "{ a[NR] = \$1 } END { print a[int((NR + 1) / 2)] }"; }
	P="[client *];close = normal;local_ports = 30000-30999"
	run() { env LD_PRELOAD="$0/libtwshim.so" TWSHIM_POLICY_TEXT="$P" "$0/bench/benchops" pool "$@"; }
	run 100 9300 9301 850 >"$1/one"
	for i in $(seq 1 850); do run 1 9303 >/dev/null; done
	: >"$1/many"
	for i in $(seq 1 100); do
		run 1 9302 >>"$1/many"
		run 1 9303 | sed "s/^a/b/" >>"$1/many"
	done
	"$0/bench/benchops" pool 100 9304 >"$1/bare"
	printf "  %-42s %10s %10s %7s\n" "" "0-10% full" "85-95%" ratio
	for f in one many; do
		a=$(sed -n "s/^a //p" "$1/$f" | med); b=$(sed -n "s/^b //p" "$1/$f" | med)
		[ $f = one ] && label="one process, 1050 connects" || label="1050 processes, one connect each"
		printf "  %-42s %10s %10s %7s\n" "$label" "$a" "$b" "$(echo "$b $a" | awk "{ printf \"%.2f\", \$1 / \$2 }")"
	done
	printf "  %-42s %10s\n" "bare, the system range (no pool)" "$(sed -n "s/^a //p" "$1/bare" | med)"
	kill $pids' "$B" "$SWDIR"
echo

# ---- 8. many threads ----
echo "8. N threads, each socket()+connect()+close() to a listener in-process, rule [client 127.0.0.0/8] nodelay = yes"
echo "   (median seconds for 8000 connections in all, $ROUNDS interleaved rounds; waits and waiting: how"
echo "   often and how long threads waited for the shim's locks, as a share of the threads' time, from a"
echo "   build that measures it, run in the same rounds; medians)"
printf '  %-10s %9s %9s %7s %9s %9s\n' threads bare twshim ratio waits waiting
cores=$(nproc)
for t in $(printf '%s\n' 1 2 "$cores" $((4 * cores)) | sort -nu); do
	: >"$SWDIR/tb"; : >"$SWDIR/ts"; : >"$SWDIR/tw"; : >"$SWDIR/tn"
	for r in $(seq 1 "$ROUNDS"); do
		"$OPS" threads "$t" $((8000 / t)) >>"$SWDIR/tb"
		env LD_PRELOAD="$LIB" TWSHIM_POLICY_TEXT='[client 127.0.0.0/8];nodelay = yes' \
		    "$OPS" threads "$t" $((8000 / t)) >>"$SWDIR/ts"
		spin=$(env LD_PRELOAD="$B/bench/libtwshim-spin.so" \
		    TWSHIM_POLICY_TEXT='[client 127.0.0.0/8];nodelay = yes' \
		    "$OPS" threads "$t" $((8000 / t)) 2>&1 >"$SWDIR/tspin" | sed -n 's/^twshim-spin: //p')
		echo "$spin" | awk '{ print $4 }' >>"$SWDIR/tn"
		echo "$(echo "$spin" | awk '{ print $6 }') $(cat "$SWDIR/tspin") $t" |
		    awk '{ printf "%.2f\n", 100 * $1 / 1e9 / ($2 * $3) }' >>"$SWDIR/tw"
	done
	tb=$(median <"$SWDIR/tb"); ts=$(median <"$SWDIR/ts")
	printf '  %-10s %9s %9s %7s %9s %8s%%\n' "$t" "$tb" "$ts" \
	    "$(echo "$ts $tb" | awk '{ printf "%.3f", $1 / $2 }')" "$(median <"$SWDIR/tn")" \
	    "$(median <"$SWDIR/tw")"
done
echo

# ---- 9. system calls per connection ----
echo "9. System calls per connection (strace -f -c on legacy_client: (calls for 300 - calls for 100) / 200)"
printf '  %-42s %8s %8s\n' "" calls added
"$B/examples/legacy_server" 65101 >/dev/null &
server=$!
sleep 0.3
calls() {	# calls N ENV...: system calls of a legacy_client run of N connections
	n=$1
	shift
	env "$@" strace -f -c -o "$SWDIR/strace" "$B/examples/legacy_client" $client_opts -q -n "$n" \
	    127.0.0.1 65101
	awk '$NF == "total" { print $4 }' "$SWDIR/strace"
}
per_conn() {	# per_conn ENV...
	a=$(calls 100 "$@"); b=$(calls 300 "$@")
	echo "$a $b" | awk '{ printf "%.2f", ($2 - $1) / 200 }'
}
client_opts=
bare=$(per_conn X=1)
printf '  %-42s %8s %8s\n' "bare" "$bare" ""
row() {	# row LABEL ENV...
	label=$1
	shift
	c=$(per_conn "$@")
	printf '  %-42s %8s %8s\n' "$label" "$c" "$(echo "$c $bare" | awk '{ printf "%+.2f", $1 - $2 }')"
}
row "default policy (no policy given)" LD_PRELOAD=$LIB
client_opts=-r
row "default policy, the answer read with recv()" LD_PRELOAD=$LIB
client_opts=
for strategy in normal abort abort-if-idle fin-then-reset "peer-first 5ms then abort" "graceful 1s" "linger 1s"; do
	"$B/twshim" --check -e "[client *];close = $strategy" >/dev/null 2>&1 || continue
	row "close = $strategy" LD_PRELOAD=$LIB TWSHIM_POLICY_TEXT="[client *];close = $strategy"
done
kill $server
echo

# ---- 10. a real client: redis-benchmark -k 0 ----
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	RN=${BENCH_REDIS_REQUESTS:-20000}
	echo "10. redis-benchmark -k 0 -c 50 -t ping_inline: a new connection per request, the client under"
	echo "    twshim's built-in default, the server bare (requests per second, medians of $ROUNDS rounds of"
	echo "    bare, twshim, twshim, bare, $RN requests each, every run in a fresh network namespace)"
	quartiles() { sort -n | awk '{ a[NR] = $1 } END { printf "%s to %s", a[int(NR / 4) + 1], a[int(3 * NR / 4) + 1] }'; }
	for buckets in 0 -; do
		: >"$SWDIR/rbare"; : >"$SWDIR/rdefault"; : >"$SWDIR/rratio"
		for r in $(seq 1 "$ROUNDS"); do
			# bare, twshim, twshim, bare: a drift within the round cancels
			rb=$(sh "$(dirname "$0")/redis-round.sh" "$RN" "$buckets" X=1)
			rd=$(sh "$(dirname "$0")/redis-round.sh" "$RN" "$buckets" LD_PRELOAD=$LIB)
			rd2=$(sh "$(dirname "$0")/redis-round.sh" "$RN" "$buckets" LD_PRELOAD=$LIB)
			rb2=$(sh "$(dirname "$0")/redis-round.sh" "$RN" "$buckets" X=1)
			printf '%s\n%s\n' "$rb" "$rb2" >>"$SWDIR/rbare"
			printf '%s\n%s\n' "$rd" "$rd2" >>"$SWDIR/rdefault"
			echo "$rd $rd2 $rb $rb2" | awk '{ printf "%.3f\n", ($1 + $2) / ($3 + $4) }' >>"$SWDIR/rratio"
		done
		b=$(median <"$SWDIR/rbare"); d=$(median <"$SWDIR/rdefault")
		if [ "$buckets" = 0 ]; then
			echo "  tcp_max_tw_buckets = 0 (the kernel keeps no TIME_WAIT, so bare pays none: twshim's own cost)"
		else
			echo "  the kernel's TIME_WAIT as it is (bare leaves one per request; twshim none)"
		fi
		printf '    bare %d, twshim %d: ratio %s; the rounds'"'"' ratios: median %s, middle half %s\n' \
		    "$b" "$d" "$(echo "$d $b" | awk '{ printf "%.3f", $1 / $2 }')" \
		    "$(median <"$SWDIR/rratio")" "$(quartiles <"$SWDIR/rratio")"
	done
	own=$(sh "$(dirname "$0")/redis-instr.sh" "$LIB")
	echo "  twshim's own user-space instructions per request (callgrind, -c 1: (3000 requests - 1000) / 2000): $own"
else
	echo "10. redis-benchmark: not installed (apt-get install redis-server redis-tools)"
fi
