# close = abort never reaches a socket another process holds: a forked
# child that sends 4 MB and closes (after the parent closed its copy) must
# leave the server reading every byte and then EOF.  SO_LINGER {1,0} is
# therefore put on a socket at close() only, never at connect() or accept().
. tests/integration/lib.sh

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
python3 tests/helpers/sink.py listen 7220 >"$T/server" 2>&1 &
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
with_shim '[accepted *];close = abort' python3 "$T/fork-server.py" 7222 &
s=$!
wait_listen 7222
python3 tests/helpers/sink.py connect 7222 >"$T/reader" 2>&1
wait $s
cat "$T/reader"
assert_has "$T/reader" "eof 4194304" "accepted: every byte, then EOF"
