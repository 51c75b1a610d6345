# The reuse quarantine: a four-tuple that a close freed without TIME_WAIT
# never comes back within TW_REUSE_QUARANTINE_MS (10 ms), whether the port
# came from the shim's own pool (passed over while quarantined, also by
# another process) or from the kernel's range (the close keeps TIME_WAIT
# when this process's closes come faster than the range absorbs).  The
# client times each connection: the end of connect() and the start of
# close(), by local port; a port's next connect() may end no sooner than
# 10 ms after its last close() began.  Bare, a port comes back within a
# few milliseconds.  And relief survives: 2000 connections through 500
# ports still complete.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
sysctl -qw net.ipv4.tcp_timestamps=1

cat >"$T/churn.py" <<'PY'
import errno, socket, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
done = failed = 0
with open(out, "w") as log:
    deadline = time.monotonic() + 20
    while done < n and time.monotonic() < deadline:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
        except OSError as e:
            s.close()
            if e.errno != errno.EADDRNOTAVAIL:
                raise
            failed += 1
            if failed > 300:
                break
            time.sleep(0.001)
            continue
        up = time.monotonic_ns()
        lport = s.getsockname()[1]
        s.sendall(b"ping\n")
        s.recv(100)
        down = time.monotonic_ns()
        s.close()
        log.write("%d %d %d\n" % (lport, up, down))
        done += 1
print("done %d failed %d" % (done, failed))
PY

# gaps FILE: how many times a port came back, and the shortest gap in microseconds.
gaps() {
	sort -k1,1n -k2,2n "$1" | awk '
	$1 == port { n++; g = ($2 - last) / 1000; if (min == "" || g < min) min = g }
	{ port = $1; last = $3 }
	END { printf "%d %d\n", n, (min == "" ? 999999 : min) }'
}

bg "$EX/legacy_server" 7301 >/dev/null
wait_listen 7301

# 1. The kernel's pick, a 10-port range.
sysctl -qw net.ipv4.ip_local_port_range="40000 40009"
python3 "$T/churn.py" 7301 200 "$T/bare.log" >"$T/bare.out" 2>&1
set -- $(gaps "$T/bare.log")
echo "bare, 10-port range: $(cat "$T/bare.out"); reuses $1, shortest gap $2 us"
# Bare keeps TIME_WAIT: no port comes back at all.
assert_eq "$1" 0 "bare: TIME_WAIT holds each port"
sleep 0.1
# TIME_WAIT from the bare run holds the range: use another destination.
bg "$EX/legacy_server" 7302 >/dev/null
wait_listen 7302
with_shim "" env TWSHIM_STATS="$T/stats.range" python3 "$T/churn.py" 7302 200 "$T/range.log" \
    >"$T/range.out" 2>&1
set -- $(gaps "$T/range.log")
echo "twshim, 10-port range: $(cat "$T/range.out"); reuses $1, shortest gap $2 us;" \
    "$(grep -E '^close_(fin_then_reset|reuse_too_soon)=' "$T/stats.range" | tr '\n' ' ')"
assert_ge "$(wc -l <"$T/range.log")" 10 "connections made through the 10-port range"
assert_ge "$2" 10000 "shortest gap before a port came back (us)"
assert_ge "$(stat_of close_reuse_too_soon "$T/stats.range")" 1 "closes that kept TIME_WAIT"

# 1b. "unsafe" accepts the risk: the same range, fin-then-reset acts.
bg "$EX/legacy_server" 7306 >/dev/null
wait_listen 7306
with_shim '[client *];close = fin-then-reset unsafe' env TWSHIM_STATS="$T/stats.unsafe" \
    python3 "$T/churn.py" 7306 50 "$T/unsafe.log" >"$T/unsafe.out" 2>&1
echo "twshim, 10-port range, unsafe: $(cat "$T/unsafe.out");" \
    "$(grep -E '^close_(fin_then_reset|reuse_too_soon)=' "$T/stats.unsafe" | tr '\n' ' ')"
assert_eq "$(stat_of close_reuse_too_soon "$T/stats.unsafe")" 0 "unsafe: no close kept TIME_WAIT"
assert_ge "$(stat_of close_fin_then_reset "$T/stats.unsafe")" 40 "unsafe: fin-then-reset acted"

# 2. The shim's own pool, 10 ports outside the system range, two processes at once.
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
pol='[client *];close = fin-then-reset;local_ports = 21000-21009'
bg "$EX/legacy_server" 7303 >/dev/null
wait_listen 7303
with_shim "$pol" env TWSHIM_STATS="$T/stats.pool1" python3 "$T/churn.py" 7303 300 "$T/pool1.log" \
    >"$T/pool1.out" 2>"$T/pool1.err" &
p1=$!
with_shim "$pol" env TWSHIM_STATS="$T/stats.pool2" python3 "$T/churn.py" 7303 300 "$T/pool2.log" \
    >"$T/pool2.out" 2>"$T/pool2.err"
wait $p1
{ sed 's/$/ 1/' "$T/pool1.log"; sed 's/$/ 2/' "$T/pool2.log"; } >"$T/pool.log"
set -- $(gaps "$T/pool.log")
echo "twshim, 10-port pool, two processes: $(cat "$T/pool1.out"), $(cat "$T/pool2.out");" \
    "reuses $1, shortest gap $2 us; quarantined" \
    "$(stat_of port_quarantined "$T/stats.pool1") + $(stat_of port_quarantined "$T/stats.pool2")"
assert_ge "$1" 100 "ports of the pool came back"
[ "$2" -ge 10000 ] || sort -k1,1n -k2,2n "$T/pool.log" | awk '$1 == port && ($2 - last) < 10000000 { print prev " -> " $0 } { port = $1; last = $3; prev = $0 }'
assert_ge "$2" 10000 "shortest gap before a pool port came back (us)"
assert_eq "$(tw_count "dport = :7303")" 0 "TIME_WAIT left by the pool's clients"

# 3. A 200-port range, a C client at full speed (several thousand a
# second, in bursts past 100 closes per 10 ms): some closes keep TIME_WAIT,
# yet more connections complete than the range holds.
sysctl -qw net.ipv4.ip_local_port_range="41000 41199"
bg "$EX/legacy_server" 7305 >/dev/null
wait_listen 7305
with_shim "" env TWSHIM_STATS="$T/stats.fast" "$EX/legacy_client" -n 3000 127.0.0.1 7305 \
    >"$T/fast.out"
echo "twshim, 200-port range: $(cat "$T/fast.out");" \
    "kept: $(stat_of close_reuse_too_soon "$T/stats.fast"), TIME_WAIT $(tw_count "dport = :7305")"
assert_ge "$(stat_of close_reuse_too_soon "$T/stats.fast")" 1 "closes that kept TIME_WAIT at full speed"
assert_ge "$(sed -n 's/.*: \([0-9]*\) of.*/\1/p' "$T/fast.out")" 201 "more than the range alone"
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"

# 4. Relief survives: 2000 connections through 500 ports.
bg "$EX/legacy_server" 7304 >/dev/null
wait_listen 7304
with_shim "" env TWSHIM_STATS="$T/stats.relief" "$EX/legacy_client" -n 2000 127.0.0.1 7304 \
    >"$T/relief.out"
echo "twshim, 500-port range: $(cat "$T/relief.out");" \
    "kept: $(stat_of close_reuse_too_soon "$T/stats.relief")"
assert_has "$T/relief.out" "2000 of 2000 requests completed" "relief through 500 ports"

# 5. The launcher says so: --sysctl, and a warning at start.
"$TW" --sysctl >"$T/sysctl"
assert_has "$T/sysctl" "net.ipv4.tcp_timestamps (1)" "--sysctl shows tcp_timestamps"
assert_has "$T/sysctl" "net.ipv4.tcp_rfc1337" "--sysctl shows tcp_rfc1337"
assert_has "$T/sysctl" "500 ports: a client's closes leave no TIME_WAIT while the process makes fewer than about 25000" \
    "--sysctl: what the range allows"
"$TW" -- true 2>"$T/warn500"
assert_lacks "$T/warn500" "ip_local_port_range" "no warning for 500 ports"
sysctl -qw net.ipv4.ip_local_port_range="40000 40009"
sysctl -qw net.ipv4.tcp_timestamps=0
"$TW" -- true 2>"$T/warn10"
cat "$T/warn10"
assert_has "$T/warn10" "ip_local_port_range has 10 ports: fewer than 200" "a warning for 10 ports"
assert_has "$T/warn10" "tcp_timestamps = 0" "a warning without timestamps"
"$TW" --diagnose >"$T/diag10"
assert_has "$T/diag10" "fewer than 200 unreserved, so twshim keeps a client's TIME_WAIT" "--diagnose says so"
assert_has "$T/diag10" "twshim's close strategies keep every TIME_WAIT" "--diagnose: timestamps off"
"$TW" -q -- true 2>"$T/warn-q"
assert_eq "$(wc -c <"$T/warn-q")" 0 "-q: no warnings"
echo "ok"
