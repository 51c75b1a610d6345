# dup2()/dup3() onto a tracked descriptor: the old socket there is
# released and the number now shares the source socket, so closing the
# source must not act on a socket the target number still holds.
. tests/integration/lib.sh

echo_server 127.0.0.1 7002 "$T/server.log"
for call in dup2 dup3; do
	with_shim '[client *];close = graceful 1s' "$OPS" \
	    sock a , connect a 127.0.0.1 7002 , sock b , connect b 127.0.0.1 7002 , \
	    $call a b , close a , write b "via b\n" , readline b , close b >"$T/$call" 2>&1
	cat "$T/$call"
	assert_has "$T/$call" "$call: " "$call ran"
	assert_has "$T/$call" "readline: ok" "$call: the socket lives on under the target number"
done
sleep 0.3
# Both runs: b's first socket ends with EOF (0 bytes), a's socket carried 6 bytes.
assert_eq "$(grep -c '^eof 6$' "$T/server.log")" 2 "bytes through the dup2'd number"
assert_eq "$(grep -c '^reset' "$T/server.log")" 0 "no connection was reset"
