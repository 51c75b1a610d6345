# local_ports skips the ports in net.ipv4.ip_local_reserved_ports, as the
# kernel's own picker does (the sysctl belongs to this test's network
# namespace).  A ten-port pool whose first five ports are reserved: five
# connections get the other five, and a sixth finds the pool used up
# rather than taking a reserved port.
. tests/integration/lib.sh

sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
sysctl -qw net.ipv4.ip_local_reserved_ports="20000-20004,20100"
sysctl -qw net.ipv4.tcp_tw_reuse=0
bg "$EX/legacy_server" 7075 >/dev/null
wait_listen 7075

local_ports() {	# the local ports of the TIME_WAIT sockets towards 7075, sorted
	ss -Htan state time-wait "dport = :7075" | awk '{ n = split($3, a, ":"); print a[n] }' | sort -n
}

with_shim '[client *];close = normal;local_ports = 20000-20009' \
    "$EX/legacy_client" -n 5 127.0.0.1 7075 >"$T/five"
cat "$T/five"
local_ports | tee "$T/ports"
assert_has "$T/five" "5 of 5 requests completed" "five connections from the pool"
assert_eq "$(tr '\n' ' ' <"$T/ports")" "20005 20006 20007 20008 20009 " \
    "the five unreserved ports, none of the reserved"

with_shim '[client *];close = normal;local_ports = 20000-20009' \
    "$EX/legacy_client" -n 1 127.0.0.1 7075 >"$T/sixth" 2>&1
cat "$T/sixth"
assert_has "$T/sixth" "Cannot assign requested address" "the sixth finds the pool used up"
assert_eq "$(local_ports | wc -l)" 5 "and took no reserved port"

# A large pool: many connections, none from the reserved ports.
with_shim '[client *];close = normal;local_ports = 20000-20199' \
    "$EX/legacy_client" -n 150 127.0.0.1 7075 >"$T/many"
cat "$T/many"
assert_has "$T/many" "150 of 150 requests completed" "150 connections from a 200-port pool"
local_ports >"$T/ports2"
assert_eq "$(awk '$1 <= 20004 || $1 == 20100' "$T/ports2" | wc -l)" 0 "no reserved port handed out"
