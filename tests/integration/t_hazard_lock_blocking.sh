# A close() that blocks (linger with unsent data) must not hold the shim's
# lock: another thread's socket()+close() stays fast meanwhile.
. tests/integration/lib.sh

bg python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.1", 7062)); s.listen(1); c, _ = s.accept(); time.sleep(10)
'
wait_listen 7062
with_shim '[client *];close = abort-if-idle' "$B/helpers/lockwait" 7062 >"$T/out" 2>&1
cat "$T/out"
a=$(sed -n 's/.*took \([0-9]*\) ms.*/\1/p' "$T/out")
b=$(sed -n 's/.*close \([0-9]*\) ms$/\1/p' "$T/out")
assert_ge "$a" 1500 "the lingering close blocked (the program's own SO_LINGER)"
assert_le "$b" 200 "the other thread was not held up"
