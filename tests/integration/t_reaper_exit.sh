# How pending waiting closes end when the program does not leave through
# exit(), and what the reaper's thread leaves behind.
#  - _exit() (no destructors) and death by SIGTERM: each pending
#    peer-first close still gets its fallback, here abort: a reset, and no
#    TIME_WAIT on this side.
#  - The thread runs only while there is something to wait for: once the
#    pending close is done, single-thread-only calls such as
#    unshare(CLONE_NEWUSER) work again.
. tests/integration/lib.sh

echo_server 127.0.0.1 7340 "$T/server.log"
sysctl -qw net.ipv4.tcp_tw_reuse=0
client='
import os, signal, socket, sys
s = socket.create_connection(("127.0.0.1", 7340)); s.sendall(b"x\n"); s.recv(10); s.close()
if sys.argv[1] == "_exit": os._exit(0)
os.kill(os.getpid(), signal.SIGTERM)
'
for how in _exit sigterm; do
	: >"$T/server.log"
	with_shim '[client *];close = peer-first 5s then abort' python3 -c "$client" "$how" \
	    >"$T/$how" 2>&1
	for _i in $(seq 1 30); do
		grep -q . "$T/server.log" && break
		sleep 0.1
	done
	cat "$T/$how" "$T/server.log"
	assert_has "$T/server.log" "reset 2" "$how: the pending close was aborted"
done
assert_eq "$(tw_count "dport = :7340")" 0 "no TIME_WAIT left here"

with_shim '[client *];close = peer-first 300ms' python3 -c '
import ctypes, os, socket, time
libc = ctypes.CDLL(None, use_errno=True)
s = socket.create_connection(("127.0.0.1", 7340)); s.sendall(b"x\n"); s.recv(10); s.close()
err = 0
for i in range(50):
    if libc.unshare(0x10000000) == 0:
        print("unshare: ok"); break
    err = ctypes.get_errno(); time.sleep(0.1)
else:
    print("unshare:", os.strerror(err))
' >"$T/unshare" 2>&1
cat "$T/unshare"
assert_has "$T/unshare" "unshare: ok" "unshare(CLONE_NEWUSER) once nothing is pending"
