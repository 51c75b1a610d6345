# _Fork() runs no fork handler, yet the child holds every socket of the
# parent as after fork(): close = abort must not reset, at the parent's
# close(), a connection the child still sends on.  The child sends 4 MB
# and closes after the parent closed its copy; the server must read every
# byte and then EOF.
. tests/integration/lib.sh

cat >"$T/client.py" <<'PY'
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"x")
if libc._Fork() == 0:
    time.sleep(0.2)		# the parent has closed its copy by now
    c.sendall(b"x" * ((4 << 20) - 1))
    c.close()
    os._exit(0)
c.close()
os.wait()
PY
python3 tests/helpers/sink.py listen 7350 >"$T/server" 2>&1 &
s=$!
wait_listen 7350
with_shim '[client *];close = abort' python3 "$T/client.py" 7350 2>&1
wait $s
cat "$T/server"
assert_has "$T/server" "eof 4194304" "every byte from the _Fork() child, then EOF"
