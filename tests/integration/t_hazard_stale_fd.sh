# A tracked socket closed where no hook sees it (syscall(SYS_close)), its
# number reused by a socket made by a raw system call: the shim's stale
# entry must not act on the new socket.  The identity check (SO_COOKIE)
# makes close() of it a plain close: an orderly EOF and TIME_WAIT, no RST.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7060 "$T/server.log"
with_shim '[client *];close = abort' env TWSHIM_STATS="$T/stats" \
    "$B/helpers/rawops" 7060 >"$T/out" 2>&1
cat "$T/out" "$T/stats"
a=$(sed -n 's/.*tracked fd \([0-9]*\),.*/\1/p' "$T/out")
b=$(sed -n 's/.*as fd \([0-9]*\)$/\1/p' "$T/out")
assert_eq "$a" "$b" "the number was reused"
assert_eq "$(stat_of close_stale "$T/stats")" 1 "the stale entry was recognised"
sleep 0.2
# abort acts at close() only: the raw close of the tracked socket, unseen,
# is a plain one too.
assert_eq "$(grep -c '^eof' "$T/server.log")" 2 "the reused socket closed in order"
assert_eq "$(tw_count "dport = :7060")" 2 "and kept its TIME_WAIT (no abort)"

# The same with abort-if-idle, at close() and at exit (where it looks at the
# sockets left open): the new socket is idle, so a stale entry trusted
# without the identity check would reset it.  And errno: close() of the
# number, now a pipe, succeeds and leaves errno alone.
for mode in close exit; do
	: >"$T/server.log"
	with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/stats-$mode" \
	    "$B/helpers/rawops" 7060 $mode >"$T/out-$mode" 2>&1
	cat "$T/out-$mode"
	sleep 0.2
	cat "$T/server.log"
	# The tracked socket went by a raw close (abort-if-idle decides at
	# close(), which it never saw): both end in order, neither is reset.
	assert_eq "$(grep -c '^reset' "$T/server.log")" 0 "$mode: nothing reset the reused socket"
	assert_eq "$(grep -c '^eof' "$T/server.log")" 2 "$mode: both closed in order"
done
with_shim '[client *];close = abort' "$B/helpers/rawops" 7060 errno >"$T/out-errno" 2>&1
cat "$T/out-errno"
assert_has "$T/out-errno" "close 0, errno kept" "close() of the reused number: 0, errno as it was"

# fclose(fdopen(s)): libc closes inside; the entry goes first, no stale use.
with_shim '[client *];close = graceful' env TWSHIM_STATS="$T/stats2" "$OPS" \
    sock a , connect a 127.0.0.1 7060 , fclose a , pipe p , close p >"$T/out2" 2>&1
cat "$T/out2"
assert_eq "$(stat_of tracked_at_exit "$T/stats2")" 0 "nothing left tracked"
assert_eq "$(stat_of close_graceful "$T/stats2")" 0 "no strategy ran on the pipe"

# getaddrinfo() opens and closes sockets inside libc (netlink for
# AI_ADDRCONFIG), unseen; interleaved with tracked sockets, every lookup
# must still work and every tracked socket get exactly its own strategy.
# (A smoke test: the netlink sockets are not TCP, so no entry goes stale;
# the stale-entry defence itself is what the rawops runs above check.)
with_shim '[client *];close = abort' env TWSHIM_STATS="$T/stats3" python3 -c '
import socket
for i in range(50):
    socket.getaddrinfo("localhost", 7060, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
    s = socket.create_connection(("127.0.0.1", 7060)); s.sendall(b"x\n"); s.recv(10); s.close()
print("lookups ok")
' >"$T/gai" 2>&1
cat "$T/gai"
assert_has "$T/gai" "lookups ok" "getaddrinfo kept working"
assert_eq "$(stat_of close_abort "$T/stats3")" 50 "each tracked socket aborted once"
assert_eq "$(stat_of close_stale "$T/stats3")" 0 "no internal socket mistaken for ours"
