# The README's first example: nginx as a reverse proxy without upstream
# keepalive (HTTP/1.1 to the upstream, "Connection" cleared, as for
# keepalive, but no "keepalive N" in an upstream block): it opens a
# connection per request to the upstream and closes it first, so its
# TIME_WAIT holds one local port per request.  500 local ports, 3000
# requests over one keep-alive client connection:
#  - bare: the first 500 get 200, the rest 502, nginx logging "connect() to
#    127.0.0.1:8081 failed (99: Cannot assign requested address)";
#    twshim --diagnose names the destination, its ports exhausted;
#  - under twshim's built-in default: 3000 of 3000 whole, no TIME_WAIT
#    towards the upstream, and the upstream logs no reset.
. tests/integration/lib.sh

command -v nginx >/dev/null || fail "nginx is not installed (make deps)"
sysctl -qw net.ipv4.tcp_tw_reuse=0
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"

mkdir -p "$T/www" "$T/up" "$T/px"
python3 -c 'print("upstream says hello\n" * 50, end="")' >"$T/www/index.html"
# ngx_conf NAME MASTER SERVERS: an nginx in the foreground, with a master
# process and a worker (MASTER on) or one process (off), files in $T/NAME.
ngx_conf() {
	cat >"$T/$1.conf" <<NGX
daemon off;
master_process $2;
worker_processes 1;
user root;
error_log $T/$1/error.log info;
pid $T/$1/pid;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $T/$1; proxy_temp_path $T/$1; fastcgi_temp_path $T/$1;
	uwsgi_temp_path $T/$1; scgi_temp_path $T/$1;
	$3
}
NGX
}
ngx_conf up off "server { listen 127.0.0.1:8081; listen 127.0.0.1:8082; root $T/www; }"
proxy_to() {	# proxy_to LISTEN UPSTREAM
	echo "server { listen 127.0.0.1:$1; location / { proxy_pass http://127.0.0.1:$2;
	    proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
}
# The proxy as it runs in production: a master process and its worker.
ngx_conf px on "$(proxy_to 8080 8081) $(proxy_to 8090 8082)"
bg nginx -c "$T/up.conf"
wait_listen 8082

requests() {	# requests PORT: status counts of 3000 GETs on one connection
	python3 - "$1" "$T/www/index.html" <<'PY'
import http.client, collections, sys
want = open(sys.argv[2], "rb").read()
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
codes = collections.Counter()
for i in range(3000):
    c.request("GET", "/index.html")
    r = c.getresponse()
    body = r.read()
    codes["%d%s" % (r.status, "" if r.status != 200 or body == want else " bad body")] += 1
print(" ".join("%s:%d" % kv for kv in sorted(codes.items())))
PY
}

# Bare.
bg nginx -c "$T/px.conf"
wait_listen 8090
requests 8080 >"$T/bare"
echo "bare: $(cat "$T/bare"); TIME_WAIT towards the upstream $(tw_count "dport = :8081")," \
    "$(grep -c 'Cannot assign requested address' "$T/px/error.log") connect() failures logged"
grep -m1 'Cannot assign' "$T/px/error.log"
assert_ge "$(sed -n 's/.*502:\([0-9]*\).*/\1/p' "$T/bare")" 2400 "bare, most requests get 502"
assert_has "$T/px/error.log" "connect() to 127.0.0.1:8081 failed (99: Cannot assign requested address)" \
    "bare, nginx runs out of local ports"
assert_ge "$(tw_count "dport = :8081")" 490 "bare, the proxy's TIME_WAIT holds the ports"
assert_eq "$(tw_count "sport = :8081")" 0 "bare, none on the upstream's side"

# A client that reads to EOF after a request nginx refuses (400): nginx
# closes first, so the proxy has TIME_WAIT on its own port 8080 too.
"$EX/legacy_client" -w -n 5 127.0.0.1 8080 >/dev/null 2>&1

# --diagnose tells the side and the destination.
"$TW" --diagnose --format json >"$T/diag.json" || fail "--diagnose"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
g = [g for g in d["client_side"] if g["port"] == 8081][0]
print("diagnose:", g["destination"], g["time_wait"], g["sources"][0]["exhausted"], [s["port"] for s in d["server_side"]])
print("served by:", g["served_by"]["program"], g["served_by"]["command"])
for s in d["server_side"]:
    print("server side:", s["port"], s["listener"]["command"], s["listener"]["title"].split(" -c")[0], "|", s["wrap"])
' "$T/diag.json" >"$T/diag"
cat "$T/diag"
assert_has "$T/diag" "diagnose: 127.0.0.1 $(tw_count "dport = :8081") True" \
    "--diagnose: client side, towards 127.0.0.1:8081, no port left"
# (nginx closes a client's keep-alive connection after 1000 requests: a
# few TIME_WAIT at 8080 are the proxy's server side, rightly.)
assert_lacks "$T/diag" "8081]" "--diagnose: nothing server side at the upstream"
assert_has "$T/diag" "served by: nginx nginx -c $T/up.conf" "--diagnose: the upstream, served here by nginx"
# The proxy's master process writes its title over its arguments: the
# program's path stands in, and the title is shown.
ngx=$(realpath "$(command -v nginx)")
assert_has "$T/diag" "server side: 8080 $ngx nginx: master process nginx | twshim -e '[accepted *:8080];close = fin-then-reset' -- $ngx ARGS" \
    "--diagnose: a rewritten process title"
kill "$(cat "$T/px/pid")"
for i in $(seq 100); do ss -Hltn "sport = :8090" | grep -q . || break; sleep 0.05; done

# Under twshim's built-in default, towards the other upstream port.
: >"$T/px/error.log"
bg env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$TW" -q -- nginx -c "$T/px.conf"
wait_listen 8090
requests 8090 >"$T/shim"
sleep 0.3
echo "twshim: $(cat "$T/shim"); TIME_WAIT towards the upstream $(tw_count "dport = :8082")," \
    "at the upstream $(tw_count "sport = :8082")"
assert_eq "$(cat "$T/shim")" "200:3000" "under twshim, every request answered whole"
assert_lacks "$T/px/error.log" "Cannot assign" "under twshim, no port exhaustion"
assert_le "$(tw_count "dport = :8082")" 5 "under twshim, no TIME_WAIT on the proxy"
assert_lacks "$T/up/error.log" "reset" "the upstream saw no reset"
