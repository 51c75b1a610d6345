# keepalive, nodelay, user_timeout, fin_timeout on clients (at connect) and
# accepted sockets (at accept), read back with getsockopt; a program's own
# setsockopt wins unless the key says force.
. tests/integration/lib.sh

echo_server 127.0.0.1 7030 "$T/server.log"
pol='[client *];keepalive = 30s,5s,4;nodelay = yes;user_timeout = 7s;fin_timeout = 9s'
with_shim "$pol" "$OPS" sock a , connect a 127.0.0.1 7030 , opt a keepalive , \
    opt a keepidle , opt a keepintvl , opt a keepcnt , opt a nodelay , \
    opt a user_timeout , opt a linger2 , close a >"$T/client"
cat "$T/client"
for kv in "keepalive: 1" "keepidle: 30" "keepintvl: 5" "keepcnt: 4" "nodelay: 1" \
    "user_timeout: 7000" "linger2: 9"; do
	assert_has "$T/client" "$kv" "client option"
done

# The program sets TCP_NODELAY off itself: kept, unless forced.
with_shim '[client *];nodelay = yes' "$OPS" sock a , setopt a nodelay 0 , \
    connect a 127.0.0.1 7030 , opt a nodelay , close a >"$T/own"
assert_has "$T/own" "nodelay: 0" "the program's own setting wins"
with_shim '[client *];nodelay = force yes' "$OPS" sock a , setopt a nodelay 0 , \
    connect a 127.0.0.1 7030 , opt a nodelay , setopt a nodelay 0 , opt a nodelay , \
    close a >"$T/forced"
cat "$T/forced"
assert_eq "$(grep -c 'nodelay: 1' "$T/forced")" 2 "force wins, before and after connect"

# Accepted sockets.
with_shim '[accepted *:7031];nodelay = yes;keepalive = 20s,3s,2;close = abort' "$OPS" \
    sock l , bind l 127.0.0.1 7031 , listen l 5 , accept c l , opt c nodelay , \
    opt c keepidle , opt c linger , close c >"$T/accepted" &
s=$!
wait_listen 7031
"$OPS" sock x , connect x 127.0.0.1 7031 , sleep 300 , close x >/dev/null
wait $s
cat "$T/accepted"
assert_has "$T/accepted" "nodelay: 1" "accepted nodelay"
assert_has "$T/accepted" "keepidle: 20" "accepted keepalive"
assert_has "$T/accepted" "linger: 0,0" "accepted abort: not before close()"
