# close = linger 1s: SO_LINGER {1,1}; with unacknowledged data (a send
# buffer filled without blocking) and a peer that does not read, close()
# blocks for about the linger time.
. tests/integration/lib.sh

bg python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.1", 7013)); s.listen(1)
c, _ = s.accept(); time.sleep(5)
'
wait_listen 7013
with_shim '[client *];close = linger 1s' "$OPS" \
    sock a , connect a 127.0.0.1 7013 , writenb a 2000000 , close a >"$T/out" 2>&1
cat "$T/out"
ms=$(value close_ms "$T/out")
assert_ge "$ms" 900 "close blocked for the linger time"
assert_le "$ms" 3000 "but not much longer"
