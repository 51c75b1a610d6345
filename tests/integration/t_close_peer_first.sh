# close = peer-first: the program closes first, but the FIN is held until
# the peer closes, so TIME_WAIT lands on the peer.  If the peer does not
# close in time the fallback applies (here abort: no TIME_WAIT at all).
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
# A server that answers and closes 300 ms later, on its own.
bg python3 -c '
import socket, time, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7016)); s.listen(16)
def serve(c):
    c.recv(100); c.sendall(b"ok\n"); time.sleep(0.3); c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
'
wait_listen 7016
ops="sock a , connect a 127.0.0.1 7016 , write a hi\\n , readline a , close a"

"$OPS" $ops >/dev/null
sleep 0.6
assert_eq "$(tw_count "dport = :7016")" 1 "bare: the client closed first and keeps TIME_WAIT"
assert_eq "$(tw_count "sport = :7016")" 0 "bare: none on the server"

with_shim '[client *];close = peer-first 2s' env TWSHIM_STATS="$T/stats" "$OPS" $ops , sleep 800 >"$T/out"
cat "$T/out" "$T/stats"
assert_le "$(value close_ms "$T/out")" 50 "close() did not wait"
assert_eq "$(stat_of peer_first_ok "$T/stats")" 1 "the peer closed first"
sleep 0.2
assert_eq "$(tw_count "dport = :7016")" 1 "no new TIME_WAIT on the client"
assert_eq "$(tw_count "sport = :7016")" 1 "TIME_WAIT landed on the server"

# A peer that never closes: after 300 ms the fallback (abort) sends RST.
echo_server 127.0.0.1 7017 "$T/echo.log"
with_shim '[client *];close = peer-first 300ms then abort' env TWSHIM_STATS="$T/stats2" \
    "$OPS" sock a , connect a 127.0.0.1 7017 , write a "hi\n" , readline a , close a , sleep 600 >"$T/out2"
cat "$T/stats2"
assert_eq "$(stat_of peer_first_timeout "$T/stats2")" 1 "timed out"
assert_has "$T/echo.log" "reset" "the fallback aborted"
assert_eq "$(tw_count "dport = :7017")" 0 "no TIME_WAIT anywhere"

# Exit before the wait is over: the fallback applies at once, at exit.
with_shim '[client *];close = peer-first 30s then abort' env TWSHIM_STATS="$T/stats3" \
    "$OPS" sock a , connect a 127.0.0.1 7017 , write a "hi\n" , readline a , close a >"$T/out3"
sleep 0.3
cat "$T/stats3"
assert_eq "$(stat_of reaper_at_exit "$T/stats3")" 1 "finished at exit"
assert_eq "$(grep -c reset "$T/echo.log")" 2 "aborted at exit, not 30 s later"
