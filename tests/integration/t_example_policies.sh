# The example policies against real programs, with what the peer
# application sees checked, not only counts.
#  - web-server.conf under nginx answering HTTP/1.0 with gzip, so that the
#    body ends at the server's close (no Content-Length): curl -0 gets the
#    whole body and exits 0 every time, and no TIME_WAIT stays on port 80.
#  - redis-client.conf under redis-benchmark -k 0 (a connection per
#    request): every request completes, from the policy's port pool, with
#    next to no TIME_WAIT left on the client.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
POL=$(realpath examples/policies)
# The launcher keeps a libtwshim.so already in LD_PRELOAD: the one under test.
twshim() {
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$TW" "$@"
}

if command -v nginx >/dev/null; then
	nginx_conf 80
	python3 -c 'print("line of text\n" * 20000, end="")' >"$T/www/blob.txt"
	# Not through the function: bg would fork a subshell for it, and the
	# kill at exit would miss nginx.
	bg env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$TW" -q -p "$POL/web-server.conf" \
	    -- nginx -c "$T/nginx.conf"
	wait_listen 80
	ok=0
	for i in $(seq 1 20); do
		curl -0 -s --compressed -o "$T/got" http://127.0.0.1/blob.txt && cmp -s "$T/got" "$T/www/blob.txt" &&
		    ok=$((ok + 1))
	done
	sleep 0.3
	echo "nginx: $ok of 20 whole, TIME_WAIT on port 80: $(tw_count "sport = :80")"
	assert_eq "$ok" 20 "curl -0 read every response whole, to EOF"
	assert_le "$(tw_count "sport = :80")" 1 "no TIME_WAIT on the server"
else
	echo "skip: nginx is not installed"
fi

if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
	bg redis-server --loglevel warning --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$T"
	wait_listen 6379
	twshim -q -p "$POL/redis-client.conf" -- redis-benchmark -q -k 0 -n 2000 -c 4 -t ping \
	    >"$T/redis" 2>&1
	rc=$?
	tr '\r' '\n' <"$T/redis" | tail -n 3
	assert_eq "$rc" 0 "redis-benchmark -k 0 completed"
	assert_lacks "$T/redis" "Cannot assign" "no EADDRNOTAVAIL"
	assert_le "$(tw_count "dport = :6379")" 10 "next to no TIME_WAIT on the client"
	assert_eq "$(ss -Htan "dport = :6379" | awk '{ split($4, a, ":"); if (a[2] < 20000 || a[2] > 29999) n++ } END { print n + 0 }')" 0 \
	    "connections from the policy's pool"
else
	echo "skip: redis is not installed"
fi
