# close_range(CLOSE_RANGE_UNSHARE) in a thread while the reaper's thread
# runs: the caller gets a private copy of the descriptor table, where the
# reaper, which keeps the shared one, sees nothing.
#  1. The copies of the reaper's pending duplicates in that copy are
#     closed there: the pending peer-first close ends on time (its
#     fallback, abort: a reset), not when the thread ends.
#  2. A close in that thread is never handed to the reaper, whose
#     duplicate would be made in a table it cannot see: it falls back at
#     once.
# The thread lives 6 s after the unsharing; each reset must reach the
# peer within 4 s of the start.
. tests/integration/lib.sh

echo_server 127.0.0.1 7370 "$T/server.log"
cat >"$T/unshare.py" <<'PY'
import ctypes, socket, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
def talk():
    s = socket.create_connection(("127.0.0.1", 7370)); s.sendall(b"x\n"); s.recv(10)
    return s
talk().close()              # pending on the reaper for 300 ms
def worker():
    print("close_range", libc.close_range(3, 0xffffffff, 2), flush=True)
    if sys.argv[1] == "own":
        talk().close()      # a socket of the worker's, closed in its private table
    time.sleep(6)
t = threading.Thread(target=worker); t.start(); t.join()
PY
for case in pending own; do
	: >"$T/server.log"
	want=1
	[ "$case" = own ] && want=2
	with_shim '[client *];close = peer-first 300ms then abort' python3 "$T/unshare.py" "$case" \
	    >"$T/$case.out" 2>&1 &
	py=$!
	for i in $(seq 1 80); do
		[ "$(grep -c '^reset 2$' "$T/server.log")" -ge "$want" ] && break
		sleep 0.05
	done
	in_time=$(grep -c '^reset 2$' "$T/server.log")
	echo "$case: after $((i * 50)) ms: $(tr '\n' ' ' <"$T/server.log")"
	wait "$py"
	cat "$T/$case.out"
	assert_has "$T/$case.out" "close_range 0" "$case: close_range with CLOSE_RANGE_UNSHARE"
	assert_eq "$in_time" "$want" "$case: the fallback's resets reached the peer while the thread lived"
done
