# The reaper (graceful, peer-first) must never make a program worse:
#  - a listener's SO_LINGER, inherited by what it accepts, is the program's
#    choice: its accepted sockets close as it asked, not through the reaper
#    (whose final close would then block);
#  - the duplicates it keeps never take the program's descriptors: under a
#    low RLIMIT_NOFILE the program still gets every socket it asks for;
#  - a connect still in progress that the program gives up is not
#    completed behind its back.
. tests/integration/lib.sh

# 1. A server that sets SO_LINGER on its listener, under [accepted *] peer-first.
with_shim '[accepted *];close = peer-first 300ms' env TWSHIM_STATS="$T/lin" python3 -c '
import socket, struct
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 5))
s.bind(("127.0.0.1", 7070)); s.listen(4)
c = socket.create_connection(("127.0.0.1", 7070))
a, _ = s.accept(); a.close(); c.close()
' >"$T/lin.out" 2>&1
cat "$T/lin.out" "$T/lin"
assert_eq "$(stat_of close_peer_first "$T/lin")" 0 "the listener's SO_LINGER was kept"
assert_eq "$(stat_of close_own_linger "$T/lin")" 1 "a plain close, as the program set it"

# 2. 300 requests, two sockets each, with 256 descriptors and every close
#    held by the reaper for 5 s (the echo server never closes first).
echo_server 127.0.0.1 7071 "$T/echo.log"
with_shim '[client *];close = peer-first 5s' env TWSHIM_STATS="$T/cap" \
    sh -c 'ulimit -n 256 && exec python3 -c "
import socket
for i in range(300):
    a = socket.create_connection((\"127.0.0.1\", 7071)); b = socket.socket()
    a.close(); b.close()
print(\"done\", i + 1)
"' >"$T/cap.out" 2>&1
cat "$T/cap.out"
assert_has "$T/cap.out" "done 300" "no EMFILE: the program kept its descriptors"
pend=$(stat_of reaper_at_exit "$T/cap")
assert_ge "$pend" 1 "the reaper still took some"
assert_le "$pend" 32 "but at most half the numbers above its floor (192 of 256)"

# 3. A connect the program abandons while the SYN is unanswered (the
#    server's accept queue is full) must not be completed later.
bg python3 -c '
import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7072)); s.listen(0)
time.sleep(1.5)
s.settimeout(2.5); n = 0
try:
    while True: s.accept(); n += 1
except socket.timeout: pass
print("accepted", n); sys.stdout.flush()
' >"$T/syn.log"
wait_listen 7072
with_shim '[client *];close = peer-first 5s' python3 -c '
import socket, time
first = socket.create_connection(("127.0.0.1", 7072))   # fills the queue
time.sleep(0.1)
late = socket.socket(); late.setblocking(False)
print("connect", late.connect_ex(("127.0.0.1", 7072)))
time.sleep(0.2); late.close()
time.sleep(4.5)
' >"$T/syn.out" 2>&1
sleep 0.3
cat "$T/syn.out" "$T/syn.log"
assert_has "$T/syn.log" "accepted 1" "only the connection the program kept"
