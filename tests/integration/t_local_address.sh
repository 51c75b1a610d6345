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

# A local_address that cannot be the source (IPv4, on an IPV6_V6ONLY socket
# going to ::1): the connect goes ahead as the program made it, at once,
# with a warning; it once looped replacing the socket forever.
echo_server ::1 7051 "$T/server6.log"
with_shim '[client *];local_address = 127.0.0.7;local_ports = 31020-31029' timeout 10 python3 -c '
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.connect(("::1", 7051)); print("v6only connected from", s.getsockname()[0])
' >"$T/v6" 2>&1
rc=$?
cat "$T/v6"
assert_eq "$rc" 0 "connect() returned"
assert_has "$T/v6" "v6only connected from ::1" "the program's own connection"
assert_has "$T/v6" "local_address cannot be the source" "and a warning says why"

# local_address = force over the program's own bind(): the address is the
# policy's, the port the one the program chose.
with_shim '[client *];local_address = force 127.0.0.7' python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 45557)); s.connect(("127.0.0.1", 7050))
print("forced from", *s.getsockname())
' >"$T/forced" 2>&1
cat "$T/forced"
assert_has "$T/forced" "forced from 127.0.0.7 45557" "the policy's address, the program's port"

# The same socket with a duplicate open: replacing it would leave the
# duplicate on the old socket, so the program's bind stands.
with_shim '[client *];local_address = force 127.0.0.7' python3 -c '
import os, socket
s = socket.socket(); s.bind(("127.0.0.1", 45558)); d = os.dup(s.fileno())
s.connect(("127.0.0.1", 7050))
print("duplicated, from", *s.getsockname())
' >"$T/duplicated" 2>&1
cat "$T/duplicated"
assert_has "$T/duplicated" "duplicated, from 127.0.0.1 45558" "a shared socket stays as the program bound it"
