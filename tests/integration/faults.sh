# faults.sh - sourced, after lib.sh, by the t_faults_*.sh tests: a link with
# faults (tests/helpers/faultnet) from this namespace to one of its own, a
# tagpeer server there and a churning tagpeer client here; one cell of the
# matrix at a time.
#
# TIME_WAIT's second job is to keep a late segment of an old connection out
# of a new one on the same four-tuple.  Each cell churns many connections
# through 10 local ports to one destination while the link delivers
# duplicates late, and every word of every stream names its connection, so
# a byte of the previous connection is caught.  Under the default, or the
# local_ports pool, the peer must read every byte and EOF as it does bare:
# no stream corrupted, none hung; a connect may fail for lack of ports
# (EADDRNOTAVAIL), as it does bare.
#
# FAULTS_CONNS=N runs N connections in each cell instead of the test's own
# count (make faults).

FN=$B/helpers/faultnet
TP=$B/helpers/tagpeer
PEER_IP=10.77.0.2
POOL_POLICY='[client *];close = fin-then-reset;local_ports = 20000-20009'
_fn=""
_cell_port=7100
# A cell starts no connection after this long: a build that hangs many
# still ends in time.
FAULTS_CELL_SECONDS=${FAULTS_CELL_SECONDS:-8}

# faults_cleanup: the link down, its namespace gone with it.
faults_cleanup() {
	faults_unlink
	cleanup
}
trap faults_cleanup EXIT

# faults_link TS FAULTNET_OPTION...: a new link and peer namespace, with
# net.ipv4.tcp_timestamps=TS on both sides, tcp_rfc1337=1 (else a late
# duplicate resets TIME_WAIT itself, and bare is not clean either) and
# tcp_tw_reuse=0; 10 local ports here.  $PEER runs a command there.
faults_link() {
	_ts=$1
	shift
	faults_unlink
	"$FN" "$@" >"$T/fn.out" 2>"$T/fn.err" &
	_fn=$!
	for _i in $(seq 1 100); do
		grep -q '^ready' "$T/fn.out" && break
		kill -0 "$_fn" 2>/dev/null || { cat "$T/fn.err" >&2; fail "faultnet did not start"; }
		sleep 0.05
	done
	grep -q '^ready' "$T/fn.out" || fail "faultnet not ready in 5 s"
	PEER="nsenter --net=/proc/$_fn/ns/net"
	for _ns in "" "$PEER"; do
		$_ns sysctl -qw net.ipv4.tcp_timestamps="$_ts" net.ipv4.tcp_rfc1337=1 \
		    net.ipv4.tcp_tw_reuse=0 || fail "sysctl"
	done
	sysctl -qw net.ipv4.ip_local_port_range="40000 40009"
}

faults_unlink() {
	[ -n "$_fn" ] || return 0
	kill "$_fn" 2>/dev/null
	wait "$_fn" 2>/dev/null
	_fn=""
	cat "$T/fn.err"
	# The devices go when the forwarder's descriptors do: wait for that,
	# so that the next link can take the same names.
	for _i in $(seq 1 100); do
		ip link show fn0 >/dev/null 2>&1 || return 0
		sleep 0.02
	done
	fail "fn0 still there after the forwarder ended"
}

# kv KEY FILE: the number after " KEY=" in a summary line.
kv() {
	sed -n "s/.* $1=\\([0-9]*\\).*/\\1/p" "$2" | tail -n 1
}

# expect A OP B WHAT: a check of the current cell; a failed one is told and
# remembered, and the cells go on, so that every count is seen
# (faults_verdict ends the test).
expect() {
	test "$1" "$2" "$3" 2>/dev/null && return 0
	echo "FAIL: cell $_name: $4: expected $2 $3, got $1" >&2
	case " $_failed " in *" $_name "*) ;; *) _failed="$_failed $_name" ;; esac
}
_failed=""

faults_verdict() {
	[ -z "$_failed" ] || fail "cells that failed:$_failed"
	echo "all cells passed"
}

# cell NAME SHIM MIN_PCT N TAGPEER_OPTION... [-- CLIENT_OPTION...]
#
# One cell on the current link: a server in the peer namespace on a port of
# its own (TIME_WAIT of earlier cells stays out of the way), N connections
# from a client here.  SHIM: bare (no library), default (no policy: the
# built-in default), cgroup (the kernel backend, twshim --cgroup, with
# close = fin-then-reset) or pool (a 10-port local_ports pool outside the system
# range, close = fin-then-reset).  MIN_PCT: the share of the attempts that
# must complete (0 where ports may rightly run out).  Both sides must find
# no foreign byte and nothing hung; every attempt completes or fails to
# connect with EADDRNOTAVAIL (after which the client pauses 1 ms, so that
# a moment without a free port does not use up the attempts).  Prints the counts; faults_verdict at the end
# of the test fails it if any cell failed.
cell() {
	_name=$1 _shim=$2 _min=$3 _n=${FAULTS_CONNS:-$4}
	shift 4
	_common=""
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		_common="$_common $1"
		shift
	done
	[ $# -gt 0 ] && shift
	_cell_port=$((_cell_port + 1))
	# shellcheck disable=SC2086
	$PEER "$TP" server $_cell_port $_common >"$T/srv.out" 2>"$T/srv.err" &
	_srv=$!
	for _i in $(seq 1 100); do
		$PEER ss -Hltn "sport = :$_cell_port" | grep -q . && break
		sleep 0.02
	done
	case $_shim in
	bare) _pre="env" ;;
	default) _pre="with_shim ''" ;;
	pool) _pre="with_shim '$POOL_POLICY'" ;;
	cgroup) _pre="\"\$TW\" --cgroup -q -e '[client *];close = fin-then-reset' --" ;;
	*) fail "cell $_name: unknown shim $_shim" ;;
	esac
	# shellcheck disable=SC2086
	eval "$_pre" '"$TP"' client $PEER_IP $_cell_port -n "$_n" -D "$FAULTS_CELL_SECONDS" -e 1 $_common '"$@"' \
	    >"$T/cli.out" 2>"$T/cli.err"
	_rc=$?
	kill "$_srv" 2>/dev/null
	wait "$_srv"
	echo "== cell $_name ($_shim, $_n connections,$_common $*)"
	cat "$T/cli.out" "$T/srv.out"
	head -n 12 "$T/cli.err"
	head -n 12 "$T/srv.err"
	_att=$(kv attempted "$T/cli.out")
	_done=$(kv completed "$T/cli.out")
	_noport=$(kv connfail_EADDRNOTAVAIL "$T/cli.out")
	_noport=${_noport:-0}
	[ -n "$_att" ] || fail "cell $_name: no summary from the client (status $_rc)"
	[ -n "$(kv completed "$T/srv.out")" ] || fail "cell $_name: no summary from the server"
	expect "$(kv corrupted "$T/cli.out")" = 0 "streams the client found foreign bytes in"
	expect "$(kv corrupted "$T/srv.out")" = 0 "streams the server found foreign bytes in"
	expect "$(kv hung "$T/cli.out")" = 0 "connections hung at the client"
	expect "$(kv hung "$T/srv.out")" = 0 "connections hung at the server"
	expect "$((_done + _noport))" = "$_att" "attempts completed or refused for lack of ports"
	expect "$(kv completed "$T/srv.out")" = "$_done" "streams the server read to the end and EOF"
	expect "$(kv empty "$T/srv.out")" = 0 "accepted connections with no stream"
	expect "$_rc" = 0 "client status"
	expect "$((_done * 100 / _att))" -ge "$_min" "percent of the attempts completed"
	echo "cell $_name: attempted=$_att completed=$_done eaddrnotavail=$_noport" \
	    "corrupted=$(kv corrupted "$T/cli.out")+$(kv corrupted "$T/srv.out")" \
	    "hung=$(kv hung "$T/cli.out")+$(kv hung "$T/srv.out") (client+server)"
}

# faults_matrix NAME SEED N CELL_ARGS...: the late-duplicates grid of one
# pattern: timestamps on and off, duplicates 0-5 and 0-50 ms late, each
# under the built-in default (10 ports of the system range: may run out,
# as bare) and the pool (which must carry a quarter of the attempts when
# timestamps let it).  MTU 9000, 5% duplicates.
faults_matrix() {
	_m_name=$1 _m_seed=$2 _m_n=$3
	shift 3
	for _m_ts in 1 0; do
		_m_min=0
		[ "$_m_ts" = 1 ] && _m_min=25
		for _m_late in 0-5 0-50; do
			faults_link "$_m_ts" --mtu 9000 --seed "$_m_seed" --dup 5 --dup-delay "$_m_late"
			cell "$_m_name-ts$_m_ts-late$_m_late" default 0 "$_m_n" "$@"
			cell "$_m_name-ts$_m_ts-late$_m_late-pool" pool "$_m_min" "$_m_n" "$@"
		done
	done
}
