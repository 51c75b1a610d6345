# close = graceful: shutdown(SHUT_WR), drain what the peer still sends,
# close.  A plain close() with unread input sends RST and the peer loses
# the end of the stream; graceful gives it an orderly EOF.  close() itself
# returns at once.
. tests/integration/lib.sh

peer() {	# a peer that sends 200 kB after the request, then waits for EOF
	bg python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.recv(100)
try:
    c.sendall(b"ok\n" + b"x" * 200000)
    while True:
        b = c.recv(65536)
        if not b: print("eof"); break
except (ConnectionResetError, BrokenPipeError): print("reset")
sys.stdout.flush()
' "$1" >"$2"
	wait_listen "$1"
}
ops="sock a , connect a 127.0.0.1 PORT , write a hi\n , readline a , close a"

peer 7014 "$T/bare.log"
"$OPS" $(echo $ops | sed s/PORT/7014/) >"$T/bare" 2>&1
sleep 0.5
cat "$T/bare.log"
assert_has "$T/bare.log" "reset" "bare: unread input makes close() reset"

peer 7015 "$T/shim.log"
with_shim '[client *];close = graceful 2s' env TWSHIM_STATS="$T/stats" \
    "$OPS" $(echo $ops | sed s/PORT/7015/) >"$T/shim" 2>&1
sleep 0.5
cat "$T/shim" "$T/shim.log"
assert_has "$T/shim.log" "eof" "graceful: the peer saw an orderly EOF"
assert_le "$(value close_ms "$T/shim")" 50 "close() did not wait"
