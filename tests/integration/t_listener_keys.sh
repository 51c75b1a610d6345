# Listener keys at bind()/listen(): reuseaddr lets a restarted server bind
# over its own TIME_WAIT (both runs under twshim); backlog overrides listen().
. tests/integration/lib.sh

srv="$EX/legacy_server -m close -n 1 7020"
# Bare: serve one request (the server closes first), restart: EADDRINUSE.
$srv >/dev/null & s=$!
wait_listen 7020
"$EX/legacy_client" -q -w 127.0.0.1 7020
wait $s
assert_eq "$(tw_count "sport = :7020")" 1 "TIME_WAIT on the server's port"
$srv >"$T/bare" 2>&1 && fail "bare restart should fail"
assert_has "$T/bare" "Address already in use" "bare restart"

# Under twshim, twice, on another port.
pol='[listener *];reuseaddr = yes'
with_shim "$pol" $EX/legacy_server -m close -n 1 7021 >/dev/null & s=$!
wait_listen 7021
"$EX/legacy_client" -q -w 127.0.0.1 7021
wait $s
assert_eq "$(tw_count "sport = :7021")" 1 "TIME_WAIT on the shimmed server's port"
with_shim "$pol" $EX/legacy_server -m close -n 1 7021 >/dev/null & s=$!
wait_listen 7021
"$EX/legacy_client" -q -w 127.0.0.1 7021 || fail "restarted server answers"
wait $s

# backlog: ss shows a listener's backlog as Send-Q.
with_shim '[listener *:7022];backlog = 777' "$OPS" sock l , bind l 0.0.0.0 7022 , \
    listen l 5 , sleep 500 >/dev/null & s=$!
wait_listen 7022
assert_eq "$(ss -Hltn 'sport = :7022' | awk '{print $3}')" 777 "backlog override"
wait $s
