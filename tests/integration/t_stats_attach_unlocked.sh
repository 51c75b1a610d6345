# The live stats file is opened (openat, writes, link, mmap, perhaps a
# warning on stderr) at a process's first tracked TCP socket: never while
# the socket table's lock is held, where another thread would spin behind
# a slow disk or a full stderr pipe.  The first socket here is accepted on
# a listener the process inherited across exec (as under socket
# activation): gdb stops at the file's opening and reads tw_busy (this
# thread inside the table) and the table's lock.
. tests/integration/lib.sh

mkdir "$T/stats"
cat >"$T/srv.py" <<'PY'
import os, socket, sys
if len(sys.argv) == 1:
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 7801)); l.listen(); l.set_inheritable(True)
    os.execve(sys.executable, [sys.executable, sys.argv[0], str(l.fileno())],
        dict(os.environ, LD_PRELOAD=os.environ["SHIMLIB"]))
l = socket.socket(fileno=int(sys.argv[1]))
c, _ = l.accept(); c.recv(10); c.close()
PY
cat >"$T/gdb.cmd" <<'G'
set breakpoint pending on
set follow-exec-mode same
catch exec
run
break tw_stats_attach
continue
printf "busy %d lock %d\n", tw_busy, table_lock
kill
quit
G
( sleep 3; python3 -c 'import socket; s=socket.create_connection(("127.0.0.1",7801)); s.send(b"x")' ) &
env SHIMLIB="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT='[accepted *];close = abort' \
    TWSHIM_STATS="$T/stats" gdb -q -batch -x "$T/gdb.cmd" \
    --args "$(python3 -c 'import sys; print(sys.executable)')" "$T/srv.py" >"$T/gdb.out" 2>&1
grep "^busy" "$T/gdb.out"
assert_has "$T/gdb.out" "busy 0 lock 0" "the stats file opened outside the table's section"
echo ok
