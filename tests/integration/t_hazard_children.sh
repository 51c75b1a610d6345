# Sockets a child process may hold: the parent's close must never shut
# them down (graceful) nor reset them (abort-if-idle) under the child.
# Each case is a way a real program hands a socket to a child without
# the fork handlers seeing it, or sees them and must still get it right:
#   posix_spawn with a file action that dup2s a close-on-exec socket;
#   Python's subprocess with pass_fds (vfork, then exec);
#   fork(), the parent closes, the child writes later.
# The child writes "hi from child" 300 ms after the parent's close; the
# server must read its 14 bytes (then EOF, or a reset when the child exits
# with the server's answer unread, as it would without twshim).
. tests/integration/lib.sh

echo_server 127.0.0.1 7062 "$T/server.log"
child='sleep 0.3; echo hi from child >&3'

run() {	# run NAME PYTHON_CODE: the parent, under close = graceful 1s
	with_shim '[client *];close = graceful 1s' env TWSHIM_STATS="$T/$1.stats" \
	    python3 -c "$2" "$child" >"$T/$1.out" 2>&1
	cat "$T/$1.out"
	assert_has "$T/$1.out" "child status 0" "$1: the child's write succeeded"
	assert_eq "$(stat_of close_graceful "$T/$1.stats")" 0 "$1: no shutdown under the child"
}

run spawn_dup2 '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", 7062))	# close-on-exec, as Python makes them
pid = os.posix_spawn("/bin/sh", ["sh", "-c", sys.argv[1]], os.environ,
    file_actions=[(os.POSIX_SPAWN_DUP2, s.fileno(), 3)])
s.close()
print("child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
'
run pass_fds '
import os, socket, subprocess, sys
s = socket.create_connection(("127.0.0.1", 7062))
os.dup2(s.fileno(), 3, inheritable=False) if s.fileno() != 3 else None
p = subprocess.Popen(["sh", "-c", sys.argv[1]], pass_fds=[3])
if s.fileno() != 3: os.close(3)
s.close()
print("child status", p.wait())
'
run fork_parent_closes '
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", 7062))
pid = os.fork()
if pid == 0:
    time.sleep(0.3); s.sendall(b"hi from child\n"); os._exit(0)
s.close()
print("child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
'
sleep 0.3
cat "$T/server.log"
assert_eq "$(grep -Ec '^(eof|reset) 14$' "$T/server.log")" 3 "each child's line arrived"
