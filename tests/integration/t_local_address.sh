# local_address: the source address is bound before connect; the port is
# still the kernel's choice.
. tests/integration/lib.sh

ip addr add 127.0.0.7/8 dev lo 2>/dev/null || true
echo_server 127.0.0.1 7050 "$T/server.log"
with_shim '[client *];local_address = 127.0.0.7' python3 -c '
import socket
s = socket.socket(); s.connect(("127.0.0.1", 7050)); print("source", *s.getsockname())
' >"$T/out"
cat "$T/out"
assert_has "$T/out" "source 127.0.0.7" "source address from the policy"
