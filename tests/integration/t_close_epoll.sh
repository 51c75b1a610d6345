# A waiting close strategy keeps the socket open on the reaper's duplicate
# after the program's close(); an epoll registration lives as long as the
# socket, so an event loop would go on getting events, with its old
# pointer, for a descriptor it closed.  The shim takes the registration out
# before it defers the close.  Python's select.epoll is the event loop.
. tests/integration/lib.sh

# A server that sends a line 300 ms after accepting, then waits.
bg python3 -c '
import socket, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7060)); s.listen(16)
def serve(c):
    time.sleep(0.3)
    try: c.sendall(b"late\n"); c.recv(10)
    except OSError: pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
'
wait_listen 7060

client='
import socket, select, sys
instances = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", 7060))
eps = [select.epoll() for _ in range(instances)]
for ep in eps: ep.register(s.fileno(), select.EPOLLIN)
s.close()
print("events", sum(len(ep.poll(0.8)) for ep in eps))
'
for n in 1 2; do
	with_shim '[client *];close = peer-first 2s' env TWSHIM_STATS="$T/s$n" \
	    python3 -c "$client" $n >"$T/out$n"
	cat "$T/out$n"
	assert_has "$T/out$n" "events 0" "$n epoll instance(s): no event after close()"
	assert_eq "$(stat_of close_peer_first "$T/s$n")" 1 "$n: counted as peer-first"
done
# One instance: the close still waited for the peer (at exit, its fallback).
assert_eq "$(stat_of reaper_at_exit "$T/s1")" 1 "one instance: the reaper had the socket"
# Two instances: not deferred at all, closed at once.
assert_eq "$(stat_of reaper_at_exit "$T/s2")" 0 "two instances: closed at once"

# Registered through a duplicate that was closed since: that registration
# can no longer be named to EPOLL_CTL_DEL, so the close must not wait.
with_shim '[client *];close = peer-first 2s' env TWSHIM_STATS="$T/s3" python3 -c '
import os, socket, select
s = socket.create_connection(("127.0.0.1", 7060))
ep = select.epoll(); d = os.dup(s.fileno()); ep.register(d, select.EPOLLIN)
os.close(d); s.close()
print("events", len(ep.poll(0.8)))
' >"$T/out3"
cat "$T/out3"
assert_has "$T/out3" "events 0" "via a closed duplicate: no event after close()"
assert_eq "$(stat_of reaper_at_exit "$T/s3")" 0 "via a closed duplicate: closed at once"

# A socket the shim replaces (local_address = force over the program's own
# bind) must not be one the program already watches: the registration
# would stay with the old socket and the connect would never be reported.
with_shim '[client *];local_address = force 127.0.0.1' python3 -c '
import socket, select
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.setblocking(False)
ep = select.epoll(); ep.register(s.fileno(), select.EPOLLOUT)
s.connect_ex(("127.0.0.1", 7060))
print("connect reported", len(ep.poll(2)))
' >"$T/out4" 2>&1
cat "$T/out4"
assert_has "$T/out4" "connect reported 1" "the watched socket was kept, and its connect seen"
