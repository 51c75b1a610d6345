# close = fin-then-reset, the built-in default for clients: TCP_LINGER2 = -1
# at close, so the peer reads every byte and then EOF, and once it has
# acknowledged our FIN the kernel resets instead of keeping TIME_WAIT here.
# Only for a connection the peer has answered (sent a byte on); the
# `always` form drops that condition.  The server here is bare Python
# reading each connection to EOF; the client runs under the launcher with
# no policy (the default) unless the case says otherwise.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
cat >"$T/run.py" <<'PY'
# run.py MODE N PORT PREFIX... : a bare server here, N clients of MODE in a
# subprocess run under PREFIX; prints what the server read and the TIME_WAIT
# left on the client's side.
import socket, subprocess, sys, time

mode, n, port, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(128)
client = r'''
import fcntl, os, socket, struct, sys, termios, time
mode, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keep = []
def acked(c):
    # Wait until every byte sent is acknowledged: then abort-if-idle finds
    # the socket idle, as after any reply.
    for _ in range(1000):
        if struct.unpack("i", fcntl.ioctl(c, termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
            return
        time.sleep(0.005)
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    if mode == "linger2":
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, 30)
    if mode == "solinger":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 5))
    if mode in ("answered", "linger2", "solinger", "wait", "forked"):
        assert c.recv(3) == b"hi\n"
    if mode != "connect":
        c.sendall(b"x" * 100000)
        acked(c)
    if mode == "exit":
        keep.append(c)	# left open: the kernel closes it at exit
        continue
    if mode == "forked" and os.fork() == 0:
        time.sleep(0.05)	# the child's copy is the last: its exit closes it
        os._exit(0)
    c.close()
if mode == "forked":
    for i in range(n):
        os.wait()
'''
p = subprocess.Popen(prefix + ["python3", "-c", client, mode, str(n), str(port)])
eof = reset = short = 0
for i in range(n):
    s, _ = ls.accept()
    if mode not in ("upload", "connect", "exit"):
        s.sendall(b"hi\n")
    got = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
        if got == (0 if mode == "connect" else 100000):
            eof += 1
        else:
            short += 1
    except ConnectionResetError:
        reset += 1
    s.close()
rc = p.wait()
# Let our FINs be acknowledged: FIN_WAIT states end in TIME_WAIT or nothing.
for _ in range(100):
    out = subprocess.run(["ss", "-Htan", "state", "fin-wait-1", "state", "fin-wait-2",
                          "dport = :%d" % port], capture_output=True, text=True).stdout
    if not out.strip():
        break
    time.sleep(0.05)
# A dump of the kernel's table can miss an entry that moves while it is
# walked (other namespaces share the hash): the most of three dumps.
tw = max(len(subprocess.run(["ss", "-Htan", "state", "time-wait", "dport = :%d" % port],
                            capture_output=True, text=True).stdout.splitlines())
         for _ in range(3))
print("%s: eof %d reset %d short %d client TIME_WAIT %d rc %d" % (mode, eof, reset, short, tw, rc))
PY

# run MODE PORT POLICY [VAR=VALUE...]: 20 clients of MODE under POLICY
# ("default": the launcher with no -p or -e, so the library's built-in
# default); the summary line in $T/MODE-PORT.
run() {
	_m=$1 _p=$2 _pol=$3
	shift 3
	if [ "$_pol" = default ]; then
		set -- env -u TWSHIM_POLICY -u TWSHIM_POLICY_TEXT "$@" \
		    LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$TW" -q --
	else
		set -- env "$@" LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
		    TWSHIM_POLICY_TEXT="$_pol"
	fi
	python3 "$T/run.py" "$_m" 20 "$_p" "$@" >"$T/$_m-$_p" 2>&1
	cat "$T/$_m-$_p"
}
field() {	# field NAME FILE: the number after NAME in a summary line
	sed -n "s/.* $1 \\([0-9]*\\).*/\\1/p" "$2" | tail -n 1
}
default() {	# default CMD...: under the launcher with no -p or -e
	env -u TWSHIM_POLICY -u TWSHIM_POLICY_TEXT \
	    LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$TW" -q -- "$@"
}

# 1. Upload 100 kB and close, the bytes acknowledged first: every byte and
#    EOF at the server.  Nothing was answered, so the close is the
#    program's own and TIME_WAIT stays here, as bare.
run upload 7200 default
assert_eq "$(field eof "$T/upload-7200")" 20 "upload: the server read every byte and EOF"
assert_eq "$(field reset "$T/upload-7200")" 0 "upload: no reset"
assert_eq "$(field TIME_WAIT "$T/upload-7200")" 20 "upload: not answered, a plain close"

# 2. The same after a greeting from the server: fin-then-reset.
run answered 7201 default
assert_eq "$(field eof "$T/answered-7201")" 20 "answered: every byte and EOF"
assert_le "$(field TIME_WAIT "$T/answered-7201")" 1 "answered: no TIME_WAIT here"

# 3. A connect-then-close client (a health check): the default leaves it
#    alone; the always form gives the peer its EOF and keeps no TIME_WAIT.
run connect 7202 default
assert_eq "$(field eof "$T/connect-7202")" 20 "connect-then-close: EOF"
assert_eq "$(field TIME_WAIT "$T/connect-7202")" 20 "connect-then-close: never answered, a plain close"
run connect 7203 '[client *];close = fin-then-reset always'
assert_eq "$(field eof "$T/connect-7203")" 20 "always: EOF"
assert_le "$(field TIME_WAIT "$T/connect-7203")" 1 "always: no TIME_WAIT here"

# 3b. Sockets the program leaves open get their strategy at exit (here the
#    always form: the server, reading the first connection to EOF, answers
#    none of them in time); and a socket shared with a forked child gets it
#    too, at the parent's close, and ends at the child's exit.
run exit 7213 '[client *];close = fin-then-reset always'
assert_eq "$(field eof "$T/exit-7213")" 20 "left open: every byte and EOF"
assert_le "$(field TIME_WAIT "$T/exit-7213")" 1 "left open: no TIME_WAIT here after exit"
run forked 7214 default
assert_eq "$(field eof "$T/forked-7214")" 20 "shared with a child: every byte and EOF"
assert_le "$(field TIME_WAIT "$T/forked-7214")" 1 "shared with a child: no TIME_WAIT here"

# 3c. A program that half-closes (shutdown) before its close is the active
#    closer already; while the peer has not closed yet, fin-then-reset still
#    ends it at the close, the peer's EOF long delivered.  The server holds
#    the connection a second after EOF; bare, TIME_WAIT stays here.
half_server() {	# half_server PORT: greet, read to EOF, wait 1 s, close
	python3 -c '
import socket, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(1)
s, _ = ls.accept(); s.sendall(b"hi\n"); got = b""
while True:
    b = s.recv(100)
    if not b: break
    got += b
print("read %r, then EOF" % got, flush=True); time.sleep(1.0); s.close()
' "$1"
}
for port in 7217 7218; do
	half_server $port >"$T/half-$port" &
	srv=$!
	wait_listen $port
	set -- "$OPS" sock a , connect a 127.0.0.1 $port , readline a , write a bye , \
	    shutdown a , sleep 300 , close a
	if [ $port = 7217 ]; then "$@" >/dev/null; else default "$@" >/dev/null; fi
	wait "$srv"
	cat "$T/half-$port"
done
assert_eq "$(tw_count "dport = :7217")" 1 "half-closed, bare: TIME_WAIT here"
assert_has "$T/half-7218" "read b'bye', then EOF" "half-closed: every byte and EOF"
assert_eq "$(tw_count "dport = :7218")" 0 "half-closed, closed before the peer: no TIME_WAIT here"

# 4. The program's own TCP_LINGER2 or SO_LINGER is its choice; force overrules it.
run linger2 7204 default
assert_eq "$(field eof "$T/linger2-7204")" 20 "own TCP_LINGER2: EOF"
assert_eq "$(field TIME_WAIT "$T/linger2-7204")" 20 "own TCP_LINGER2 kept: a plain close"
run solinger 7205 default
assert_eq "$(field eof "$T/solinger-7205")" 20 "own SO_LINGER: EOF"
assert_eq "$(field TIME_WAIT "$T/solinger-7205")" 20 "own SO_LINGER kept: a plain close"
run linger2 7206 '[client *];close = force fin-then-reset'
assert_eq "$(field eof "$T/linger2-7206")" 20 "forced: EOF"
assert_le "$(field TIME_WAIT "$T/linger2-7206")" 1 "forced over the program's TCP_LINGER2"
run answered 7207 '[client *];close = fin-then-reset;fin_timeout = 30s'
assert_eq "$(field TIME_WAIT "$T/answered-7207")" 20 "the policy's own fin_timeout kept"

# 5. As peer-first's fallback, against a server that closes only after our
#    EOF: after the wait, every byte and EOF, and no TIME_WAIT here.
run answered 7208 '[client *];close = peer-first 100ms then fin-then-reset' \
    TWSHIM_LOG=info TWSHIM_LOG_FILE="$T/log"
assert_eq "$(field eof "$T/answered-7208")" 20 "fallback: every byte and EOF"
assert_le "$(field TIME_WAIT "$T/answered-7208")" 1 "fallback: no TIME_WAIT here"
assert_has "$T/log" "fell back to fin-then-reset" "the fallback is logged"
run linger2 7213 '[client *];close = peer-first 50ms then fin-then-reset'
assert_eq "$(field eof "$T/linger2-7213")" 20 "fallback, own TCP_LINGER2: EOF"
assert_eq "$(field TIME_WAIT "$T/linger2-7213")" 20 "fallback, own TCP_LINGER2 kept: a plain close"

# 6. What happened, said: one info line per close, and a counter.
run answered 7209 '[client *];close = fin-then-reset' TWSHIM_LOG=info \
    TWSHIM_LOG_FILE="$T/log2" TWSHIM_STATS="$T/st2"
assert_eq "$(grep -c 'close: fin-then-reset' "$T/log2")" 20 "one line per close"
assert_eq "$(stat_of close_fin_then_reset "$T/st2")" 20 "counted"
run connect 7210 '[client *];close = fin-then-reset' TWSHIM_LOG=info \
    TWSHIM_LOG_FILE="$T/log3" TWSHIM_STATS="$T/st3"
assert_eq "$(grep -c 'close: normal: not answered' "$T/log3")" 20 "not answered, said"
assert_eq "$(stat_of close_not_answered "$T/st3")" 20 "not answered, counted"

# 7. What the peer can still tell: a write it makes after acknowledging our
#    FIN fails with EPIPE at once; bare, the same write seems to succeed.
cat >"$T/late.py" <<'PY'
import socket, subprocess, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 7212)); ls.listen(4)
client = 'import socket; c = socket.create_connection(("127.0.0.1", 7212)); c.recv(3); c.sendall(b"bye"); c.close()'
p = subprocess.Popen(sys.argv[1:] + ["python3", "-c", client])
s, _ = ls.accept(); s.sendall(b"hi\n")
got = b""
while True:
    b = s.recv(100)
    if not b: break
    got += b
p.wait()
time.sleep(0.3)		# past the delayed ACK of the client's FIN
try:
    s.send(b"late"); print("read %r, then EOF; late write: ok" % got)
except OSError as e:
    print("read %r, then EOF; late write: %s" % (got, errno.errorcode[e.errno]))
PY
sed -i '1s/^/import errno\n/' "$T/late.py"
python3 "$T/late.py" env >"$T/late-bare" 2>&1
python3 "$T/late.py" env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
    TWSHIM_POLICY_TEXT='[client *];close = fin-then-reset' >"$T/late-shim" 2>&1
cat "$T/late-bare" "$T/late-shim"
assert_has "$T/late-bare" "read b'bye', then EOF; late write: ok" "bare: the late write seems to succeed"
assert_has "$T/late-shim" "read b'bye', then EOF; late write: EPIPE" "fin-then-reset: EPIPE at once"

# 8. A connection-per-request client far beyond a 500-port range: every
#    request completes, no EADDRNOTAVAIL, next to no TIME_WAIT.
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
bg "$EX/legacy_server" 7211 >/dev/null
wait_listen 7211
default "$EX/legacy_client" -n 2000 127.0.0.1 7211 >"$T/legacy" 2>&1
cat "$T/legacy"
assert_has "$T/legacy" "2000 of 2000 requests completed" "2000 requests through 500 ports"
assert_lacks "$T/legacy" "Cannot assign requested address" "no EADDRNOTAVAIL"
assert_le "$(tw_count "dport = :7211")" 10 "next to no TIME_WAIT"
