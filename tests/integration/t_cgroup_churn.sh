# twshim --cgroup: a Go client and a static C client, which LD_PRELOAD
# cannot reach, make 2000 connections each through 500 local ports with
# tcp_tw_reuse=0 (the Go client over IPv6 too).  Bare, the Go client fails at about the 501st; under the
# kernel backend all 2000 complete, the server reads every byte then EOF
# each time, no TIME_WAIT is left, the peer is sent no RST, and nothing
# stays loaded or attached afterwards.
. tests/integration/lib.sh
. tests/integration/cgroup.sh

# The library plays no part here: the ASan run has nothing more to check.
[ "${SANITIZER:-plain}" = asan ] && skip "the kernel backend does not use the library (plain run only)"

sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
sysctl -qw net.ipv4.tcp_tw_reuse=0
sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null
n=2000

# serve PORT [v6]: a static server for n connections, its summary in $T/server.PORT.
serve() {
	"$SS" "$1" $n 1000 ${2:-} >"$T/server.$1" &
	_pids="$_pids $!"
	wait_listen "$1"
}

rsts() {
	nstat -az TcpOutRsts | awk '/TcpOutRsts/ { print $2 }'
}

for client in go static go6; do
	case $client in
	go) port=7101; serve $port ;;
	static) port=7102; serve $port ;;
	go6) port=7104; serve $port v6 ;;
	esac
	rst0=$(rsts)
	if [ $client = go ]; then
		$TW --cgroup -- $INSIDE "$GO" 127.0.0.1:$port $n 1000 1 >"$T/out" 2>"$T/err"
	elif [ $client = go6 ]; then
		$TW --cgroup -- $INSIDE "$GO" "[::1]:$port" $n 1000 1 >"$T/out" 2>"$T/err"
	else
		$TW --cgroup -- $INSIDE "$SC" 127.0.0.1 $port $n 1000 >"$T/out" 2>"$T/err"
	fi
	rc=$?
	cat "$T/out" "$T/err"
	assert_eq "$rc" 0 "$client client: the program's own exit status"
	assert_has "$T/out" "client: $n of $n" "$client client: every connection completes"
	wait "${_pids##* }"
	cat "$T/server.$port" "$T/attached"
	assert_has "$T/server.$port" "$n connections: $n every byte then EOF, 0 short, 0 reset" \
	    "$client client: the peer reads every byte, then EOF"
	assert_eq "$(tw_count)" 0 "$client client: no TIME_WAIT left"
	assert_has "$T/err" "twshim: cgroup: $n TIME_WAIT destroyed" "$client client: the exit line"
	assert_eq "$(( $(rsts) - rst0 ))" 0 "$client client: a destroyed TIME_WAIT sends no RST"
	# The five programs were attached by links, and are gone with them.
	assert_eq "$(cg_ids "$T/attached" | wc -l)" 5 "$client client: five programs attached"
	assert_unloaded "$T/attached" "$client client: after exit"
	[ ! -d "$(cat "$T/attached.path")" ] || fail "$client client: the cgroup was not removed"
done

# Bare, the same Go client runs out of the 500 ports.
serve 7103
"$GO" 127.0.0.1:7103 $n 1000 1 >"$T/bare" 2>&1
rc=$?
cat "$T/bare"
kill "${_pids##* }" 2>/dev/null
bare=$(sed -n 's/client: \([0-9]*\) of.*/\1/p' "$T/bare")
assert_eq "$rc" 1 "bare: the Go client fails"
assert_le "$bare" 520 "bare: the 500-port range runs out"
assert_has "$T/bare" "cannot assign requested address" "bare: EADDRNOTAVAIL"
echo "PASS"
