# local_ports: a private pool outside the system range carries many more
# sequential connections to one destination than the system range alone;
# TIME_WAIT 4-tuples are skipped; a used-up pool fails with EADDRNOTAVAIL
# at once; the program's own bind() is respected; IPv6 works.
. tests/integration/lib.sh

sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
sysctl -qw net.ipv4.tcp_tw_reuse=0
bg "$EX/legacy_server" 7040 >/dev/null
wait_listen 7040
n=5000
[ "${SANITIZER:-plain}" = asan ] && n=1500

"$EX/legacy_client" -n $n 127.0.0.1 7040 >"$T/bare"
cat "$T/bare"
bare=$(sed -n 's/.*: \([0-9]*\) of.*/\1/p' "$T/bare")
assert_le "$bare" 520 "bare: the 500-port system range runs out"
assert_has "$T/bare" "Cannot assign requested address" "bare fails with EADDRNOTAVAIL"

with_shim '[client *];close = normal;local_ports = 20000-29999' env TWSHIM_STATS="$T/stats" \
    "$EX/legacy_client" -n $n 127.0.0.1 7040 >"$T/shim"
cat "$T/shim" "$T/stats"
assert_has "$T/shim" "$n of $n requests completed" "the pool carries them all"
assert_eq "$(stat_of ports_allocated "$T/stats")" $n "every port came from the pool"
assert_ge "$(tw_count "dport = :7040")" $n "close = normal: TIME_WAIT stays, in the pool"

# The same ports serve another destination at once (SO_REUSEADDR sharing).
bg "$EX/legacy_server" 7041 >/dev/null
wait_listen 7041
with_shim '[client *];local_ports = 20000-20099' "$EX/legacy_client" -n 50 127.0.0.1 7041 >"$T/other"
assert_has "$T/other" "50 of 50" "a second destination shares the pool's ports"

# A 10-port pool, all ten 4-tuples in TIME_WAIT: EADDRNOTAVAIL, at once.
bg "$EX/legacy_server" 7042 >/dev/null
wait_listen 7042
with_shim '[client *];close = normal;local_ports = 21000-21009' "$EX/legacy_client" -n 10 127.0.0.1 7042 >/dev/null
start=$(date +%s%N)
with_shim '[client *];close = normal;local_ports = 21000-21009' "$EX/legacy_client" -n 1 127.0.0.1 7042 >"$T/full"
ms=$((($(date +%s%N) - start) / 1000000))
cat "$T/full"
assert_has "$T/full" "Cannot assign requested address" "exhausted pool"
assert_le "$ms" 3000 "exhaustion is reported, not waited out"

# Non-blocking connect, the program's own bind, IPv6.
with_shim '[client *];local_ports = 31000-31009' python3 -c '
import socket, errno
s = socket.socket(); s.setblocking(False)
rc = s.connect_ex(("127.0.0.1", 7040))
print("nonblocking", errno.errorcode.get(rc, rc), s.getsockname()[1])
s2 = socket.socket(); s2.bind(("127.0.0.1", 45555)); s2.connect(("127.0.0.1", 7040))
print("own bind", s2.getsockname()[1])
s6 = socket.socket(socket.AF_INET6); s6.connect(("::1", 7040))
print("ipv6", s6.getsockname()[1])
' >"$T/py" 2>&1
cat "$T/py"
port=$(awk '/^nonblocking/ {print $3}' "$T/py")
assert_has "$T/py" "nonblocking EINPROGRESS" "non-blocking connect still says EINPROGRESS"
[ "$port" -ge 31000 ] && [ "$port" -le 31009 ] || fail "non-blocking connect got port $port"
assert_has "$T/py" "own bind 45555" "the program's own bind is kept"
port6=$(awk '/^ipv6/ {print $2}' "$T/py")
[ "$port6" -ge 31000 ] && [ "$port6" -le 31009 ] || fail "IPv6 got port $port6"

# force: the program's own bind() is overruled (its address kept, the port
# from the pool); without force it stood, above.
ip addr add 127.0.0.9/8 dev lo 2>/dev/null || true
with_shim '[client *];local_ports = force 31010-31019' python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.9", 45556)); s.connect(("127.0.0.1", 7040))
print("forced", *s.getsockname())
' >"$T/forced" 2>&1
cat "$T/forced"
assert_has "$T/forced" "forced 127.0.0.9 3101" "forced: the program's address, a pool port"

# Inside the system range the kernel picks (IP_LOCAL_PORT_RANGE); 7040 has
# used up the system range, so ask for 7041.
with_shim '[client *];local_ports = 40100-40109' python3 -c '
import socket
s = socket.socket(); s.connect(("127.0.0.1", 7041)); print("inside", s.getsockname()[1])
' >"$T/inside"
port=$(awk '{print $2}' "$T/inside")
[ "$port" -ge 40100 ] && [ "$port" -le 40109 ] || fail "inside the system range got $port"

# Two processes of eight threads each share a 16-port pool towards one
# server (the pool's 4-tuples are the only ones they may use): every
# connect succeeds or fails with EADDRNOTAVAIL, nothing else, nothing hangs.
echo_server 127.0.0.1 7043 "$T/pool-server.log"
pool_pids=""
for p in 1 2; do
	with_shim '[client *:7043];close = abort;local_ports = 32000-32015' python3 -c '
import socket, threading, errno, collections
out = collections.Counter()
def run():
    for i in range(100):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", 7043)); out["ok"] += 1
        except OSError as e:
            out[errno.errorcode.get(e.errno, str(e.errno))] += 1
        s.close()
ts = [threading.Thread(target=run) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print(" ".join("%s=%d" % kv for kv in sorted(out.items())))
' >"$T/pool.$p" 2>"$T/pool-err.$p" &
	pool_pids="$pool_pids $!"
done
wait $pool_pids
cat "$T"/pool.*
for p in 1 2; do
	grep -q "ok=" "$T/pool.$p" || fail "process $p: no connection succeeded"
	if sed 's/ok=[0-9]*//; s/EADDRNOTAVAIL=[0-9]*//; s/ //g' "$T/pool.$p" | grep -q .; then
		fail "process $p: errors other than EADDRNOTAVAIL: $(cat "$T/pool.$p")"
	fi
done
