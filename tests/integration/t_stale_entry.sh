# A stale entry must not decide for a new socket: a socket the policy was
# applied to is closed where no hook sees it (syscall(SYS_close), as
# io_uring closes), and a socket made as unseen takes its number.  With
# nodelay forced, the program's setsockopt(TCP_NODELAY, 1) on the new
# socket must still take effect (it is not the socket the policy forced),
# and the new socket's connect() must get the policy (keepalive).  The
# same for a listener replaced unseen: accepted sockets do not inherit the
# old listener's options (the program's SO_KEEPALIVE = 0 there).  And an
# epoll registration of the new socket, made before its connect(), is
# taken out when a waiting close keeps the socket open.
. tests/integration/lib.sh

"$B/helpers/stalereuse" 200 >"$T/bare" 2>&1
with_shim '[client *];nodelay = force no;keepalive = yes;[accepted *];keepalive = yes' "$B/helpers/stalereuse" 200 >"$T/shim" 2>&1
cat "$T/bare" "$T/shim"
assert_has "$T/bare" "nodelay kept: 200 of 200" "bare: the program's TCP_NODELAY"
assert_has "$T/shim" "same number: 200 of 200" "the new socket took the old one's number"
assert_has "$T/shim" "nodelay kept: 200 of 200" "the program's TCP_NODELAY on the new socket"
assert_has "$T/shim" "policy at connect: 200 of 200" "the new socket's connect got the policy"
assert_has "$T/shim" "same listener number: 200 of 200" "the new listener took the old one's number"
assert_has "$T/shim" "policy at accept: 200 of 200" "accepted sockets got the policy"
"$B/helpers/stalereuse" 20 epoll >"$T/bare-ep" 2>&1
with_shim '[client *];close = graceful 1s' "$B/helpers/stalereuse" 20 epoll >"$T/shim-ep" 2>&1
cat "$T/bare-ep" "$T/shim-ep"
assert_has "$T/bare-ep" "epoll reports after close: 0 of 20" "bare: closed means unregistered"
assert_has "$T/shim-ep" "same number: 20 of 20" "the new socket took the old one's number"
assert_has "$T/shim-ep" "epoll reports after close: 0 of 20" "no event for the closed number"
echo ok
