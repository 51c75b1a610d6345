# A reader blocked on a number that another thread closes and gives to a
# new socket: its late end of file (the old peer's) must not be noted on
# the new connection, which would then be taken for "the peer closed
# first" and keep its TIME_WAIT.  The notes carry the number's generation.
# Issue 19, item 4: a fresh socket's flag byte equals the one the reader
# saw, so the late note landed.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
# The old connection's peer closes 300 ms after accepting.
bg python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7231)); s.listen(8)
while True:
    c, _ = s.accept(); time.sleep(0.3); c.close()'
wait_listen 7231
echo_server 127.0.0.1 7232 "$T/server.log"

for i in 1 2 3; do
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$i" \
	    "$B/helpers/latenote" 7231 7232 >"$T/out.$i" || fail "latenote failed"
done
cat "$T/out.1"
sleep 0.2
tw=$(tw_count "dport = :7232")
peer=$(cat "$T"/stats.* | sed -n 's/^close_peer_closed=//p' | paste -sd+ | bc)
echo "3 runs: TIME_WAIT towards the new peer $tw, closes taken for the peer's first $peer"
assert_has "$T/out.1" "new socket on the old number: yes" "the number was reused"
assert_has "$T/out.1" "late read on the old socket: 0" "the late read got the old peer's EOF"
assert_eq "$tw" 0 "TIME_WAIT left by the new connections"
assert_eq "$peer" 0 "new connections taken for closed by their peer"
