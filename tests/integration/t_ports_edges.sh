# local_ports at its edges: a socket the shim replaces keeps the program's
# options (and does not take the defaults as settings); a connect() with an
# address that is not the socket's own family, or too short, is passed to
# the kernel untouched; a thread cancelled inside a pooled connect() leaves
# none of the shim's own sockets behind.
. tests/integration/lib.sh

sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
bg python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7080)); s.listen(64)
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 7080)); s6.listen(64)
time.sleep(60)
'
wait_listen 7080

# The program sets options, binds, connects; force makes the shim replace
# the socket, in the kernel's range and in a private pool.
opts='
import socket
IP_FREEBIND, SO_ZEROCOPY, TCP_NOTSENT_LOWAT = 15, 60, 25
def run(tag):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 100)
    s.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, 4096)
    s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 7)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
    s.bind(("127.0.0.1", 0))
    s.connect(("127.0.0.1", 7080))
    g = lambda lvl, opt: s.getsockopt(lvl, opt)
    print(tag, "port", s.getsockname()[1])
    print(tag, "rcvlowat", g(socket.SOL_SOCKET, socket.SO_RCVLOWAT))
    print(tag, "notsent_lowat", g(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT))
    print(tag, "freebind", g(socket.IPPROTO_IP, IP_FREEBIND))
    print(tag, "zerocopy", g(socket.SOL_SOCKET, SO_ZEROCOPY))
    print(tag, "keepcnt", g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
    print(tag, "tos", g(socket.IPPROTO_IP, socket.IP_TOS))
    print(tag, "reuseaddr", g(socket.SOL_SOCKET, socket.SO_REUSEADDR))
    print(tag, "mss_capped", int(g(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= 536))
import sys
run(sys.argv[1])
'
python3 -c "$opts" bare >"$T/opts"
with_shim '[client *];local_ports = force 40100-40199' python3 -c "$opts" kernel >>"$T/opts"
with_shim '[client *];local_ports = force 20000-20099' python3 -c "$opts" pool >>"$T/opts"
cat "$T/opts"
for tag in kernel pool; do
	port=$(awk -v t=$tag '$1 == t && $2 == "port" {print $3}' "$T/opts")
	case $tag in kernel) lo=40100 hi=40199 ;; pool) lo=20000 hi=20099 ;; esac
	[ "$port" -ge $lo ] && [ "$port" -le $hi ] || fail "$tag: port $port is not from the policy"
	for o in "rcvlowat 100" "notsent_lowat 4096" "freebind 1" "zerocopy 1" "keepcnt 7" \
	    "tos 16" "mss_capped 0"; do
		assert_has "$T/opts" "$tag $o" "$tag: the replaced socket keeps ${o% *}"
	done
done
# The kernel's range: SO_REUSEADDR stays as the program left it (off);
# the private pool binds with it, as the manual says.
assert_has "$T/opts" "kernel reuseaddr 0" "kernel range: SO_REUSEADDR not added"
assert_has "$T/opts" "pool reuseaddr 1" "pool: SO_REUSEADDR, for sharing ports"

# Short or foreign addresses: the kernel says EINVAL, and the socket stays
# unbound (nothing bound to a pool port behind the program's back).
short='
import ctypes, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
def attempt(tag, raw, n):
    s = socket.socket(socket.AF_INET6)
    buf = ctypes.create_string_buffer(raw, len(raw))
    rc = libc.connect(s.fileno(), buf, n)
    err = ctypes.get_errno() if rc < 0 else 0
    print(tag, rc, errno_name(err), "port", s.getsockname()[1])
def errno_name(e):
    import errno
    return errno.errorcode.get(e, str(e))
v4 = struct.pack("=HH4s8x", socket.AF_INET, socket.htons(7080), socket.inet_aton("127.0.0.1"))
v6 = struct.pack("=HHI16sI", socket.AF_INET6, socket.htons(7080), 0,
    socket.inet_pton(socket.AF_INET6, "::1"), 0)
attempt("v4-on-v6", v4, 16)
attempt("v6-len8", v6[:8], 8)
attempt("v6-whole", v6, 28)
'
for pol in '[client *];local_ports = 20000-20099' '[client *];local_ports = 40100-40199'; do
	with_shim "$pol" env PYTHONMALLOC=malloc python3 -c "$short" >"$T/short" 2>&1
	cat "$T/short"
	assert_has "$T/short" "v4-on-v6 -1 EINVAL port 0" "$pol: IPv4 address on an IPv6 socket"
	assert_has "$T/short" "v6-len8 -1 EINVAL port 0" "$pol: 8-byte address"
	assert_has "$T/short" "v6-whole 0 0" "$pol: a whole address still connects"
done

# Cancelled inside pooled connects: no netlink or routing socket is left.
for pol in '[client *];local_ports = 20000-29999' \
    '[client *];local_ports = 20000-29999;local_address = 127.0.0.1'; do
	with_shim "$pol" "$B/helpers/cancelconnect" 7089 200 >"$T/cancel"
	cat "$T/cancel"
	assert_has "$T/cancel" "cancelled: 200" "every thread was cancelled"
	assert_eq "$(value netlink "$T/cancel")" 0 "$pol: netlink sockets left by cancelled connects"
	assert_eq "$(value "inet datagram" "$T/cancel")" 0 "$pol: routing sockets left"
done
echo "ok"
