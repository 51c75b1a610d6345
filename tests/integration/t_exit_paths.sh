# Every way a process leaves its image sees to its sockets as exit() does:
# exit, _exit, _Exit, quick_exit, execv, execl, fexecve and execveat.
#  1. A pending peer-first close (handed to the reaper) gets its fallback,
#     here fin-then-reset: no TIME_WAIT on this side.
#  2. A socket still open under peer-first gets the fallback at once (the
#     wait cannot be), under the default fin-then-reset its own action.
#  3. A socket the program keeps across exec (not close-on-exec) stays
#     its own: no reset put on it, the new program goes on using it.  An
#     exec that fails takes back the reset it set on an idle socket.  A
#     fork child's exec puts none on a socket its parent holds too.
#  4. A real program: wget closes nothing before it exits; in a
#     500-port range, 600 runs under peer-first all succeed.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7350 "$T/server.log"
cat >"$T/leave.py" <<'PY'
import ctypes, os, socket, sys
how, state = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None)
s = socket.create_connection(("127.0.0.1", 7350)); s.sendall(b"x\n"); s.recv(10)
if state == "closed":
    s.close()
if how == "exit": libc.exit(0)          # exit() itself: Python's own exit would close s
if how == "_exit": os._exit(0)
if how == "_Exit": libc._Exit(0)
if how == "quick_exit": libc.quick_exit(0)
if how == "execv": os.execv("/bin/true", ["true"])
if how == "fexecve": os.execve(os.open("/bin/true", os.O_RDONLY), ["true"], dict(os.environ))
if how == "execl": libc.execl(b"/bin/true", b"true", None)
if how == "execveat":
    argv = (ctypes.c_char_p * 2)(b"true", None)
    envp = (ctypes.c_char_p * 1)(None)
    libc.execveat(-100, b"/bin/true", argv, envp, 0)    # AT_FDCWD
PY

result=""
for pol in 'peer-first 5s then fin-then-reset:closed' 'peer-first 200ms then fin-then-reset:open' \
    'fin-then-reset:open'; do
	for how in exit _exit _Exit quick_exit execv execl fexecve execveat; do
		with_shim "[client *];close = ${pol%:*}" python3 "$T/leave.py" "$how" "${pol#*:}" \
		    >"$T/out" 2>&1 || { cat "$T/out"; fail "$how: the client failed"; }
		sleep 0.2
		n=$(tw_count "dport = :7350")
		echo "${pol%:*}, socket ${pol#*:}, $how: TIME_WAIT $n"
		[ "$n" = 0 ] || result="$result ${pol%%[ :]*}/${pol#*:}/$how"
		ss -Htan state time-wait "dport = :7350" -K >/dev/null 2>&1
		[ "$(tw_count "dport = :7350")" = 0 ] || fail "cannot clear TIME_WAIT between cases"
	done
done
assert_eq "${result:-none}" none "TIME_WAIT left by"

# 3. Kept across exec, and an exec that fails.
: >"$T/server.log"
with_shim '[client *];close = abort' python3 -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", 7350)); s.sendall(b"x\n"); s.recv(10)
s.set_inheritable(True)
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
os.execve(sys.executable, [sys.executable, "-c", """
import socket
s = socket.socket(fileno=%d); s.sendall(b"y\\n"); s.recv(10); s.close()
""" % s.fileno()], env)
' >"$T/kept" 2>&1 || { cat "$T/kept"; fail "the exec'd program failed"; }
# The linger a reset would leave is read back: SO_LINGER {1,0} is on
# the socket if and only if a reset was set and not taken back.
linger='struct.unpack("ii", s.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))'
with_shim '[client *];close = abort-if-idle' python3 -c '
import os, socket, struct
s = socket.create_connection(("127.0.0.1", 7350)); s.sendall(b"x\n"); s.recv(10)
try: os.execv("/nonexistent/program", ["program"])
except OSError as e: print("exec:", e.strerror)
print("linger after the failed exec:", '"$linger"')
' >"$T/failed" 2>&1
with_shim '[client *];close = abort-if-idle' python3 -c '
import os, socket, struct
s = socket.create_connection(("127.0.0.1", 7350)); s.sendall(b"x\n"); s.recv(10)
pid = os.fork()
if pid == 0: os.execv("/bin/true", ["true"])
os.waitpid(pid, 0)
print("linger after the child'"'"'s exec:", '"$linger"')
' >"$T/forked" 2>&1
for _i in $(seq 1 30); do
	grep -q . "$T/server.log" && break
	sleep 0.1
done
cat "$T/kept" "$T/failed" "$T/forked" "$T/server.log"
assert_has "$T/server.log" "eof 4" "kept across exec: the new program's bytes, then EOF"
assert_has "$T/failed" "exec: No such file or directory" "the exec failed"
assert_has "$T/failed" "linger after the failed exec: (0, 0)" "the failed exec took its reset back"
assert_has "$T/forked" "linger after the child's exec: (0, 0)" \
    "a fork child's exec put no reset on the parent's socket"

# 4. wget leaves its connection open at exit (nginx keeps it alive).
if command -v nginx >/dev/null && command -v wget >/dev/null; then
	nginx_conf 7351
	echo hello >"$T/www/a.txt"
	bg nginx -c "$T/nginx.conf"
	wait_listen 7351
	sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
	failed=0
	for _i in $(seq 1 600); do
		with_shim '[client *]
close = peer-first 200ms then fin-then-reset' wget -q --tries=1 -O /dev/null \
		    http://127.0.0.1:7351/a.txt 2>>"$T/wget" || failed=$((failed + 1))
	done
	echo "wget: $failed of 600 failed; TIME_WAIT here: $(tw_count "dport = :7351")"
	sort "$T/wget" | uniq -c | head -n 3
	assert_eq "$failed" 0 "600 runs of wget through 500 ports"
else
	echo "skip: nginx or wget is not installed"
fi
