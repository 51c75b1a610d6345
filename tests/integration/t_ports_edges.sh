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

# The program sets options (the IPv4 ones twshim.conf(5) lists, but those
# that change how connect() or the first segments go, or that the shim
# sets itself), binds, connects;
# force makes the shim replace the socket, in the kernel's range and in a
# private pool.  Every option must survive, and TCP_MAXSEG must not turn
# into a setting (read back as 536 before connect, copying it caps the MSS).
opts='
import socket, struct, sys
S, T, I = socket.SOL_SOCKET, socket.IPPROTO_TCP, socket.IPPROTO_IP
tv = struct.pack("ll", 3, 0)
table = [
    ("SO_REUSEPORT", S, 15, 1), ("SO_KEEPALIVE", S, 9, 1),
    ("SO_LINGER", S, 13, struct.pack("ii", 1, 5)), ("SO_OOBINLINE", S, 10, 1),
    ("SO_MARK", S, 36, 7),
    ("SO_BINDTODEVICE", S, 25, b"lo\0"), ("SO_RCVLOWAT", S, 18, 100),
    ("SO_RCVTIMEO", S, 20, tv), ("SO_SNDTIMEO", S, 21, tv),
    ("SO_ZEROCOPY", S, 60, 1), ("SO_MAX_PACING_RATE", S, 47, 1000000),
    ("SO_BUSY_POLL", S, 46, 50), ("SO_TIMESTAMPNS", S, 35, 1),
    ("TCP_NODELAY", T, 1, 1), ("TCP_KEEPIDLE", T, 4, 77), ("TCP_KEEPINTVL", T, 5, 11),
    ("TCP_KEEPCNT", T, 6, 7), ("TCP_SYNCNT", T, 7, 3), ("TCP_USER_TIMEOUT", T, 18, 5000),
    ("TCP_LINGER2", T, 8, 12), ("TCP_CONGESTION", T, 13, b"reno"),
    ("TCP_NOTSENT_LOWAT", T, 25, 4096), ("TCP_THIN_LINEAR_TIMEOUTS", T, 16, 1),
    ("TCP_INQ", T, 36, 1), ("TCP_TX_DELAY", T, 37, 100),
    ("IP_TOS", I, 1, 0x10), ("IP_TTL", I, 2, 33), ("IP_FREEBIND", I, 15, 1),
    ("IP_TRANSPARENT", I, 19, 1), ("IP_MTU_DISCOVER", I, 10, 0), ("IP_RECVERR", I, 11, 1),
    ("SO_PRIORITY", S, 12, 3),
]
def get(s, lvl, opt, val):
    if isinstance(val, bytes):
        return s.getsockopt(lvl, opt, 16)
    return s.getsockopt(lvl, opt)
def same(got, val):
    if isinstance(val, bytes):
        return got.rstrip(b"\0") == val.rstrip(b"\0")
    return got == val
s = socket.socket()
for name, lvl, opt, val in table:
    s.setsockopt(lvl, opt, val)
s.setsockopt(S, socket.SO_RCVBUF, 100000)
s.setsockopt(S, socket.SO_SNDBUF, 150000)
s.bind(("127.0.0.1", 0))
s.connect(("127.0.0.1", int(sys.argv[2])))
tag = sys.argv[1]
print(tag, "port", s.getsockname()[1])
for name, lvl, opt, val in table:
    got = get(s, lvl, opt, val)
    print(tag, "kept" if same(got, val) else "lost", name, got)
print(tag, "rcvbuf", s.getsockopt(S, socket.SO_RCVBUF), "sndbuf", s.getsockopt(S, socket.SO_SNDBUF))
import fcntl
print(tag, "cloexec", fcntl.fcntl(s.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
print(tag, "reuseaddr", s.getsockopt(S, socket.SO_REUSEADDR))
print(tag, "mss_capped", int(s.getsockopt(T, socket.TCP_MAXSEG) <= 536))
'
python3 -c "$opts" bare 7080 >"$T/opts"
with_shim '[client *];local_ports = force 40100-40199' python3 -c "$opts" kernel 7080 >>"$T/opts"
with_shim '[client *];local_ports = force 20000-20099' python3 -c "$opts" pool 7080 >>"$T/opts"
cat "$T/opts"
assert_lacks "$T/opts" " lost " "every option kept"
assert_eq "$(grep -c '^kernel kept ' "$T/opts")" "$(grep -c '^bare kept ' "$T/opts")" "kernel range: all options checked"
assert_eq "$(grep -c '^pool kept ' "$T/opts")" "$(grep -c '^bare kept ' "$T/opts")" "pool: all options checked"
for tag in kernel pool; do
	port=$(awk -v t=$tag '$1 == t && $2 == "port" {print $3}' "$T/opts")
	case $tag in kernel) lo=40100 hi=40199 ;; pool) lo=20000 hi=20099 ;; esac
	[ "$port" -ge $lo ] && [ "$port" -le $hi ] || fail "$tag: port $port is not from the policy"
	assert_has "$T/opts" "$tag mss_capped 0" "$tag: TCP_MAXSEG not turned into a setting"
	assert_has "$T/opts" "$tag rcvbuf 200000 sndbuf 300000" "$tag: the program's buffer sizes"
	assert_has "$T/opts" "$tag cloexec 1" "$tag: close-on-exec"
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
