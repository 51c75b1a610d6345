# Real servers, started here on loopback, and clients that open a
# connection per request through a range of 500 local ports, under the
# built-in default policy and the example policies.  Checked: what the
# server application saw (its own log or its data), that the clients
# completed far past 500 connections, and that next to no TIME_WAIT stays.
#  - redis-server with redis-benchmark -k 0, under the default and under
#    redis-client.conf: redis logs every client close as an orderly one,
#    none as "Connection reset by peer".
#  - memcached with a client that stores a key, says "quit" and closes at
#    once (its goodbye still unacknowledged): every key stored.
#  - postgres with pgbench -C (libpq sends Terminate just before close):
#    every transaction, no client reset in postgres's log.
#  - accepted-first.conf under nginx answering HTTP/1.0 (it closes first):
#    curl -0 reads every byte and exits 0.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
POL=$(realpath examples/policies)
# The interpreter itself, not a wrapper script that would run under the
# library too.
PY=$(python3 -c "import sys; print(sys.executable)")

# under_default CMD...: CMD under the built-in default policy, with the
# launcher and no -p as a user runs it (another library, for comparison,
# by LD_PRELOAD, which is what the launcher does).
under_default() {
	if [ "$LIB" = "$(realpath "$B/libtwshim.so")" ] && [ -z "${PRELOAD_FIRST:-}" ]; then
		env -u TWSHIM_POLICY -u TWSHIM_POLICY_TEXT "$TW" -q -- "$@"
	else
		env -u TWSHIM_POLICY -u TWSHIM_POLICY_TEXT \
		    LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$@"
	fi
}

# under_file POLICY CMD...: the same with a policy file.
under_file() {
	_f=$1
	shift
	env -u TWSHIM_POLICY_TEXT TWSHIM_POLICY="$_f" \
	    LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$@"
}

# 1. redis-benchmark -k 0: 2000 connections, each PING, PONG, close.
bg redis-server --port 6380 --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
    --loglevel verbose --logfile "$T/redis.log"
wait_listen 6380
under_default redis-benchmark -p 6380 -q -k 0 -n 1000 -c 2 -t ping >"$T/rb" 2>&1
rc=$?
tr '\r' '\n' <"$T/rb" | grep -v '^$' | tail -n 2
sleep 0.3
closed=$(grep -c "Client closed connection" "$T/redis.log")
resets=$(grep -c "Connection reset by peer" "$T/redis.log")
echo "redis: $closed orderly closes, $resets resets; TIME_WAIT $(tw_count "dport = :6380")"
assert_eq "$rc" 0 "redis-benchmark -k 0 completed"
assert_lacks "$T/rb" "Cannot assign" "no EADDRNOTAVAIL"
assert_ge "$closed" 2000 "redis read every client's EOF"
assert_eq "$resets" 0 "redis saw no reset"
assert_le "$(tw_count "dport = :6380")" 10 "next to no TIME_WAIT on the client"

# The same through redis-client.conf (its [client *:6379] section), whose
# port pool lies outside the 500-port range.
bg redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
    --loglevel verbose --logfile "$T/redis2.log"
wait_listen 6379
under_file "$POL/redis-client.conf" redis-benchmark -q -k 0 -n 1000 -c 2 -t ping >"$T/rb2" 2>&1
rc=$?
sleep 0.3
closed=$(grep -c "Client closed connection" "$T/redis2.log")
resets=$(grep -c "Connection reset by peer" "$T/redis2.log")
echo "redis-client.conf: $closed orderly closes, $resets resets; TIME_WAIT $(tw_count "dport = :6379")"
assert_eq "$rc" 0 "redis-client.conf: redis-benchmark -k 0 completed"
assert_ge "$closed" 2000 "redis-client.conf: redis read every client's EOF"
assert_eq "$resets" 0 "redis-client.conf: redis saw no reset"
assert_le "$(tw_count "dport = :6379")" 10 "redis-client.conf: next to no TIME_WAIT on the client"

# 2. memcached: 1000 clients, each "set", "STORED", "quit", close at once.
memcached -u root -l 127.0.0.1 -p 11212 -U 0 -c 64 >/dev/null 2>&1 &
_pids="$_pids $!"
wait_listen 11212
cat >"$T/memc_clients.py" <<'PY'
import socket, sys
port, n, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
done, ports = 0, set()
for i in range(n):
    try:
        c = socket.create_connection(("127.0.0.1", port))
    except OSError as e:
        print("connect %d: %s" % (i, e)); break
    ports.add(c.getsockname()[1])
    c.sendall(b"set %s%d 0 0 5\r\nhello\r\n" % (prefix.encode(), i))
    if c.recv(100) != b"STORED\r\n":
        print("not stored: %d" % i); break
    c.sendall(b"quit\r\n")
    c.close()
    done += 1
print("done %d" % done)
print("ports %d" % len(ports))
PY
memc_count() {	# memc_count PREFIX N: how many of keys PREFIX0..N-1 memcached holds
	python3 -c '
import socket, sys
prefix, n = sys.argv[1], int(sys.argv[2])
c = socket.create_connection(("127.0.0.1", 11212)); f = c.makefile("rb")
found = 0
for i in range(n):
    c.sendall(b"get %s%d\r\n" % (prefix.encode(), i))
    line = f.readline()
    if line.startswith(b"VALUE"):
        f.readline(); f.readline(); found += 1
print(found)
' "$@"
}
under_default "$PY" "$T/memc_clients.py" 11212 1000 d >"$T/memc" 2>&1
cat "$T/memc"
sleep 0.3
echo "memcached: $(memc_count d 1000) of 1000 keys stored; TIME_WAIT $(tw_count "dport = :11212")"
assert_has "$T/memc" "done 1000" "1000 quit-and-close clients through 500 ports"
assert_eq "$(memc_count d 1000)" 1000 "memcached got every byte of every client"
# memcached closes too when it reads "quit": when its FIN crosses ours
# (simultaneous close, CLOSING), TIME_WAIT stays on both sides whatever the
# strategy.  A few in a hundred under ASan's slower close, fewer plain.
assert_le "$(tw_count "dport = :11212")" 100 "few TIME_WAIT on the client"

# The same under app-client.conf, whose [client *] is the catch-all here.
under_file "$POL/app-client.conf" "$PY" "$T/memc_clients.py" 11212 600 a >"$T/memc2" 2>&1
cat "$T/memc2"
assert_has "$T/memc2" "done 600" "app-client.conf: 600 clients through a range of 500 ports"
assert_eq "$(memc_count a 600)" 600 "app-client.conf: every key stored"

# The README's case for peer-first: a client whose server closes on its own
# right after (memcached at "quit").  TIME_WAIT lands on the server, one
# per client port used: the kernel hands a client a port whose four-tuple
# the server still holds in TIME_WAIT, and the new SYN takes that over.
memcached -u root -l 127.0.0.1 -p 11213 -U 0 -c 64 >/dev/null 2>&1 &
_pids="$_pids $!"
wait_listen 11213
env -u TWSHIM_POLICY TWSHIM_POLICY_TEXT="[client *:11213];close = peer-first 200ms then fin-then-reset" \
    LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$PY" "$T/memc_clients.py" 11213 200 p >"$T/memc3" 2>&1
cat "$T/memc3"
sleep 0.3
echo "peer-first: TIME_WAIT $(tw_count "dport = :11213") here, $(tw_count "sport = :11213") at memcached"
assert_has "$T/memc3" "done 200" "peer-first: every client done"
ports=$(sed -n 's/^ports //p' "$T/memc3")
assert_ge "$(tw_count "sport = :11213")" $((ports - 5)) "peer-first: TIME_WAIT at the server, for each port"
assert_le "$(tw_count "dport = :11213")" 10 "peer-first: next to none here"

# 3. pgbench -C against postgres, set up here as an unprivileged user.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ "${SANITIZER:-plain}" = asan ]; then
	# libp11-kit's destructor deadlocks in freelocale() at pgbench's exit
	# whenever libasan is preloaded, twshim or not.
	echo "skip: pgbench under ASan (it hangs at exit with libasan preloaded alone)"
elif [ -z "$PGBIN" ] || ! command -v pgbench >/dev/null; then
	fail "postgresql is not installed (make deps)"
elif ! runuser -u nobody -- true 2>/dev/null; then
	echo "skip: postgres (it refuses root, and this namespace cannot switch to another user)"
else
	chmod o+x "$T"	# nobody must reach its directory inside
	mkdir -p "$T/pg"
	chown nobody "$T/pg"
	start=$(date +%s%N)
	runuser -u nobody -- "$PGBIN/initdb" -N -A trust -U postgres -D "$T/pg/data" >"$T/pg/initdb.log" 2>&1 ||
	    { cat "$T/pg/initdb.log"; fail "initdb"; }
	runuser -u nobody -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w -o \
	    "-c listen_addresses=127.0.0.1 -p 5433 -c unix_socket_directories=$T/pg -c fsync=off -c log_disconnections=on" \
	    start >/dev/null || { cat "$T/pg/log"; fail "postgres did not start"; }
	echo "postgres set up in $((($(date +%s%N) - start) / 1000000)) ms"
	echo "SELECT 1;" >"$T/pg/q.sql"
	under_default pgbench -n -C -t 700 -f "$T/pg/q.sql" -h 127.0.0.1 -p 5433 -U postgres postgres \
	    >"$T/pgb" 2>&1
	rc=$?
	runuser -u nobody -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast stop >/dev/null
	grep -E "processed|failed|Cannot assign|error" "$T/pgb" | head -n 5
	echo "postgres: $(grep -c "disconnection:" "$T/pg/log") disconnections logged;" \
	    "TIME_WAIT $(tw_count "dport = :5433")"
	assert_eq "$rc" 0 "pgbench -C completed"
	assert_has "$T/pgb" "processed: 700/700" "700 connections through 500 ports"
	assert_le "$(tw_count "dport = :5433")" 10 "next to no TIME_WAIT on the client"
	assert_ge "$(grep -c "disconnection:" "$T/pg/log")" 700 "postgres ended every session"
	assert_lacks "$T/pg/log" "could not receive data from client" "postgres saw no reset"
	assert_lacks "$T/pg/log" "unexpected EOF" "postgres got every Terminate"
fi

# 4. accepted-first.conf under nginx on port 8080, answering HTTP/1.0 with
#    gzip, so that each body ends at the server's close: curl -0 reads every
#    byte to EOF and exits 0 (with the old abort-if-idle there it exited 56,
#    ECONNRESET), and no TIME_WAIT stays on the server.
if command -v nginx >/dev/null; then
	nginx_conf 8080
	python3 -c 'print("line of text\n" * 5000, end="")' >"$T/www/page.txt"
	# Not through a shell function: "&" would fork a subshell, and nginx
	# would outlive the kill at exit.
	bg env -u TWSHIM_POLICY_TEXT TWSHIM_POLICY="$POL/accepted-first.conf" \
	    LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" nginx -c "$T/nginx.conf"
	wait_listen 8080
	ok=0
	codes=""
	for i in $(seq 1 20); do
		curl -0 --compressed -s -o "$T/got" http://127.0.0.1:8080/page.txt
		rc=$?
		codes="$codes $rc"
		[ "$rc" -eq 0 ] && cmp -s "$T/got" "$T/www/page.txt" && ok=$((ok + 1))
	done
	sleep 0.3
	echo "nginx under accepted-first.conf: $ok of 20 whole; curl exits:$codes;" \
	    "TIME_WAIT on the server $(tw_count "sport = :8080")"
	assert_eq "$ok" 20 "curl -0 read every response whole, to EOF"
	assert_le "$(tw_count "sport = :8080")" 1 "no TIME_WAIT on the server"
else
	fail "nginx is not installed (make deps)"
fi
