# The reaper (graceful, peer-first) must never make a program worse:
#  - a listener's SO_LINGER, inherited by what it accepts, is the program's
#    choice: its accepted sockets close as it asked, not through the reaper
#    (whose final close would then block);
#  - the duplicates it keeps never take the program's descriptors: under a
#    low RLIMIT_NOFILE the program still gets every socket it asks for;
#  - a connect still in progress that the program gives up is not
#    completed behind its back;
#  - the share follows RLIMIT_NOFILE as the program changes it, and holds
#    at a low limit: the library's descriptors take at most half the
#    numbers above its floor (64: floor 48, so at most 8);
#  - the descriptor table is sized for them at start-up, once.
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

# 4. A program that raises its limit from 1024 to 20000 (or its hard limit)
#    gets all of its 1,000 waiting closes; the listener never accepts, so
#    no peer closes first.
with_shim '[client *];close = peer-first 5s' env TWSHIM_STATS="$T/raise" sh -c \
    'ulimit -Sn 1024 && exec python3 -c "$0"' '
import resource, socket
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(20000, hard), hard))
l = socket.socket(); l.bind(("127.0.0.1", 7073)); l.listen(4096)
for i in range(1000):
    socket.create_connection(("127.0.0.1", 7073)).close()
print("done")
' >"$T/raise.out" 2>&1
cat "$T/raise.out" "$T/raise"
assert_has "$T/raise.out" "done" "1,000 closes made"
taken=$(( $(stat_of peer_first_ok "$T/raise") + $(stat_of peer_first_timeout "$T/raise") +
    $(stat_of reaper_at_exit "$T/raise") ))
assert_eq "$taken" 1000 "every close waited on the reaper under the raised limit"

# 5. At limit 64, twenty waiting closes, then as many descriptors as the
#    program can get: at most 8 fewer than bare.
room='
import os, socket
l = socket.socket(); l.bind(("127.0.0.1", 7074)); l.listen(64)
for i in range(20):
    socket.create_connection(("127.0.0.1", 7074)).close()
n = 0
try:
    while True:
        os.open("/dev/null", os.O_RDONLY); n += 1
except OSError: pass
print("room:", n)
'
sh -c 'ulimit -n 64 && exec python3 -c "$0"' "$room" >"$T/room.bare" 2>&1
with_shim '[client *];close = peer-first 5s' sh -c 'ulimit -n 64 && exec python3 -c "$0"' \
    "$room" >"$T/room.shim" 2>&1
cat "$T/room.bare" "$T/room.shim"
bare=$(value room "$T/room.bare")
assert_ge "$bare" 20 "bare, the program has room"
assert_ge "$(value room "$T/room.shim")" $((bare - 8)) "the library took at most half of the 16 numbers above its floor"

# 6. The table, at a limit of 20000 or the hard limit if lower (floor 1024,
#    up to (limit - 1024) / 2 - 3 pending): sized at start-up to cover them
#    all (FDSize in /proc counts its slots).
lim=$(ulimit -Hn)
if [ "$lim" = unlimited ] || [ "$lim" -gt 20000 ]; then lim=20000; fi
fdsize='print([l.split()[1] for l in open("/proc/self/status") if l.startswith("FDSize")][0])'
sh -c 'ulimit -Sn "$1" && exec python3 -c "$0"' "$fdsize" "$lim" >"$T/fdsize.bare" 2>&1
with_shim '[client *];close = peer-first 5s' sh -c 'ulimit -Sn "$1" && exec python3 -c "$0"' \
    "$fdsize" "$lim" >"$T/fdsize.shim" 2>&1
cat "$T/fdsize.bare" "$T/fdsize.shim"
assert_le "$(cat "$T/fdsize.bare")" 1024 "bare, a small table"
assert_ge "$(cat "$T/fdsize.shim")" $(( (lim + 1024) / 2 )) "shimmed, one that covers every pending close"
