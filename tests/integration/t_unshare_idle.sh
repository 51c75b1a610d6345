# close_range(CLOSE_RANGE_UNSHARE) in a thread while no close is pending
# (the reaper's thread not running): that thread's table is private from
# then on, so it must not be the one to start the reaper, which would then
# share its copy and lose sight of every other thread's duplicates (their
# peers would get no FIN until the process ends).  Here the unsharing
# thread closes one socket first, then the main thread closes 20, each
# under peer-first 300ms then normal: every peer must see its EOF within
# 2 s, while the process still runs.
. tests/integration/lib.sh

echo_server 127.0.0.1 7380 "$T/server.log"
cat >"$T/idle.py" <<'PY'
import ctypes, socket, threading, time
libc = ctypes.CDLL(None, use_errno=True)
def talk():
    s = socket.create_connection(("127.0.0.1", 7380)); s.sendall(b"x\n"); s.recv(10)
    return s
def worker():
    print("close_range", libc.close_range(0xfffffffe, 0xfffffffe, 2), flush=True)
    talk().close()          # the first waiting close of the process
    time.sleep(6)
t = threading.Thread(target=worker, daemon=True); t.start()
time.sleep(0.2)
for i in range(20):
    talk().close()
time.sleep(2)
print("done", flush=True)
PY
with_shim '[client *];close = peer-first 300ms then normal' python3 "$T/idle.py" >"$T/out" 2>&1 &
pid=$!
for i in $(seq 1 60); do
	grep -q '^done' "$T/out" && break
	sleep 0.1
done
eofs=$(grep -c '^eof' "$T/server.log")
cat "$T/out"
echo "peers that saw EOF while the process ran: $eofs of 21"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
assert_has "$T/out" "close_range 0" "close_range unshared"
assert_ge "$eofs" 21 "peers that saw EOF while the process ran"
echo ok
