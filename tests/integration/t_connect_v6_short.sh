# An IPv6 connect() with the length of RFC 2133's struct sockaddr_in6 (24,
# without sin6_scope_id), which Linux accepts, matches sections by its
# address and port like the full length (28).  Issue 19, item 8: it
# matched only `*` sections (TCP_NODELAY 0 at length 24, 1 at 28).
. tests/integration/lib.sh

echo_server ::1 9000 "$T/server.log"
pol='[client *:9000];nodelay = yes'
with_shim "$pol" "$OPS" sock6 a , connect24 a ::1 9000 , opt a nodelay >"$T/short"
with_shim "$pol" "$OPS" sock6 a , connect a ::1 9000 , opt a nodelay >"$T/full"
echo "length 24: $(grep -E 'connect|nodelay' "$T/short" | tr '\n' ' ')"
echo "length 28: $(grep -E 'connect|nodelay' "$T/full" | tr '\n' ' ')"
assert_has "$T/short" "connect24: 0" "the kernel took length 24"
assert_has "$T/full" "nodelay: 1" "length 28 matched [client *:9000]"
assert_has "$T/short" "nodelay: 1" "length 24 matched [client *:9000]"
