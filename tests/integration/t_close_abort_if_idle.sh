# close = abort-if-idle: RST only when nothing is unsent, unacknowledged or
# unread.  An idle connection leaves no TIME_WAIT; a connection with data
# still in flight closes normally and every byte reaches the peer.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7011 "$T/server.log"

with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/s1" "$OPS" \
    sock a , connect a 127.0.0.1 7011 , write a "hello\n" , readline a , close a >"$T/idle"
sleep 0.2
assert_eq "$(tw_count "dport = :7011")" 0 "idle: no TIME_WAIT"
assert_eq "$(stat_of close_abort_if_idle "$T/s1")" 1 "counted as idle"

# A peer that reads nothing for a second: the client fills its send buffer
# without blocking, so bytes are surely unacknowledged when it closes.
bg python3 -c '
import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7012)); s.listen(1)
c, _ = s.accept(); time.sleep(1.0); n = 0
while True:
    try: b = c.recv(65536)
    except ConnectionResetError: print("reset", n); break
    if not b: print("eof", n); break
    n += len(b)
sys.stdout.flush()
' >"$T/slow.log"
wait_listen 7012
with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/s2" "$OPS" \
    sock a , connect a 127.0.0.1 7012 , writenb a 4000000 , outq a , close a >"$T/busy"
cat "$T/busy"
sent=$(value writenb "$T/busy")
assert_ge "$(value outq "$T/busy")" 1 "precondition: bytes unacknowledged at close"
sleep 2
cat "$T/slow.log"
assert_eq "$(stat_of close_abort_if_busy "$T/s2")" 1 "counted as busy"
assert_has "$T/slow.log" "eof $sent" "all $sent bytes arrived, then EOF"
