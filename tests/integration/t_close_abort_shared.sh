# close = abort never reaches a socket another process holds: a forked
# child that sends 4 MB and closes (after the parent closed its copy) must
# leave the server reading every byte and then EOF.  SO_LINGER {1,0} is
# therefore put on a socket at close() only, never at connect() or accept().
. tests/integration/lib.sh

cat >"$T/server.py" <<'PY'
import socket, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(4)
print("listening", flush=True)
s, _ = ls.accept()
time.sleep(0.3)		# let the child's close find bytes still unsent
got = 0
try:
    while True:
        b = s.recv(65536)
        if not b:
            print("eof %d" % got); break
        got += len(b)
except ConnectionResetError:
    print("reset %d" % got)
PY
cat >"$T/client.py" <<'PY'
import os, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
if os.fork() == 0:
    c.sendall(b"x" * (4 << 20))
    c.close()
    os._exit(0)
c.close()
os.wait()
PY
python3 "$T/server.py" 7220 >"$T/server" 2>&1 &
s=$!
wait_listen 7220
with_shim '[client *];close = abort' python3 "$T/client.py" 7220
wait $s
cat "$T/server"
assert_has "$T/server" "eof 4194304" "client: every byte, then EOF"

# The accepted side: a server that forks a child per connection and closes
# its own copy at once, the child answering 4 MB.
cat >"$T/fork-server.py" <<'PY'
import os, socket, sys
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(4)
a, _ = ls.accept()
if os.fork() == 0:
    a.sendall(b"y" * (4 << 20))
    a.close()
    os._exit(0)
a.close()
os.wait()
PY
cat >"$T/reader.py" <<'PY'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(0.3)
got = 0
try:
    while True:
        b = c.recv(65536)
        if not b:
            print("eof %d" % got); break
        got += len(b)
except ConnectionResetError:
    print("reset %d" % got)
PY
with_shim '[accepted *];close = abort' python3 "$T/fork-server.py" 7222 &
s=$!
wait_listen 7222
python3 "$T/reader.py" 7222 >"$T/reader" 2>&1
wait $s
cat "$T/reader"
assert_has "$T/reader" "eof 4194304" "accepted: every byte, then EOF"
