# A stale entry without a cookie must not keep a later socket from its
# policy.  A client the policy gave no strategy needing a cookie is closed
# where no hook sees it (syscall(SYS_close)); a socket made the same way
# (syscall(SYS_socket)) takes its number and connects where the policy
# says close = abort: the peer must see the reset.  And a connect that
# failed, tried again on the same socket towards another address, gets
# that address's policy.  Issue 19, item 5: the peer saw EOF, since the
# old entry's "already a client" stood for the new socket.
. tests/integration/lib.sh

pol='[client *:7261];close = abort;[client *];close = fin-then-reset'
python3 tests/helpers/sink.py listen 7261 >"$T/sink" &
sink=$!
wait_listen 7261
echo_server 127.0.0.1 7262 "$T/server.log"
with_shim "$pol" "$OPS" sock a , connect a 127.0.0.1 7262 , write a hello\\n , readline a , \
    sysclose a , syssock b , connect b 127.0.0.1 7261 , write b hello , close b >"$T/out"
wait "$sink"
cat "$T/out"
echo "the peer of the new socket saw: $(cat "$T/sink")"
assert_has "$T/out" "syssock: 3" "the unseen socket took the old number"
assert_eq "$(cat "$T/sink")" "reset 5" "close = abort applied to the new socket"

# A failed connect (nothing listens on 7263), then the same socket to 7261.
python3 tests/helpers/sink.py listen 7261 >"$T/sink2" &
sink=$!
wait_listen 7261
with_shim "$pol" "$OPS" sock a , connect a 127.0.0.1 7263 , connect a 127.0.0.1 7261 , \
    write a hello , close a >"$T/out2"
wait "$sink"
cat "$T/out2"
echo "after a failed connect, the peer saw: $(cat "$T/sink2")"
assert_has "$T/out2" "connect: -1 Connection refused" "the first connect failed"
assert_eq "$(cat "$T/sink2")" "reset 5" "the second address's policy (abort) applied"
