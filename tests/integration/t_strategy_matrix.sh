# Every close strategy against every usage pattern, with real sockets: what
# the peer application sees (its bytes, how its read ends, a reset after the
# EOF, the result of a write made after our close, what its first poll()
# after our close reports) and where TIME_WAIT lands.  Prints the table,
# checks the claims the documentation makes, and fails when the table in
# README.md or twshim.conf(5) differs from the one measured here (`make
# matrix` writes them).
#
# MATRIX_STRATEGIES (";" between them) replaces the list of strategies;
# MATRIX_OUT=DIR also writes the table there as matrix.md and matrix.roff.
. tests/integration/lib.sh

CM=$B/helpers/closematrix
STRATEGIES=${MATRIX_STRATEGIES:-"normal;abort;abort-if-idle;fin-then-reset;fin-then-reset always;linger 1s;graceful 1s;peer-first 200ms;peer-first 200ms then fin-then-reset"}
PATTERNS="rr upload banner pipelined connect halfclose peerclose peerlater peershut writelate slowpeer peerpoll serverfirst"
# peer-first holds our FIN back for its DUR (200 ms here): a peer's EOF that
# came this long after our close() waited for it.  Only peer-first is
# looked at, as only it holds the FIN back; a loaded machine can delay any
# EOF, never bring one forward.
LATE_NS=190000000

title() {
	case $1 in
	rr) echo "request, response" ;;
	upload) echo "upload, close" ;;
	banner) echo "banner, upload, close" ;;
	pipelined) echo "pipelined requests" ;;
	connect) echo "connect, close" ;;
	halfclose) echo "half-close, read, close" ;;
	peerclose) echo "peer closes at its EOF" ;;
	peerlater) echo "peer closes just after us" ;;
	peershut) echo "peer shuts down and waits" ;;
	writelate) echo "peer writes late" ;;
	slowpeer) echo "peer slow to read" ;;
	peerpoll) echo "peer polls before reading" ;;
	serverfirst) echo "we serve and close first" ;;
	esac
}

# fields FILE: the KEY=VALUE pairs of a closematrix result line as the
# entries of F.  Read by the shell itself: a sed for each field of each
# cell (nearly 800 of them) cost seconds of CPU.
declare -A F
fields() {
	local kv line=""

	F=()
	read -r line <"$1" || true
	for kv in $line; do
		F[${kv%%=*}]=${kv#*=}
	done
}

IFS=';'
set -f
set -- $STRATEGIES
set +f
unset IFS
for s in "$@"; do
	"$TW" --check -e "[client *];close = $s" >/dev/null 2>&1 ||
	    fail "this build does not know 'close = $s'"
done

# One port per cell; every cell at once.
peers=""
ours=""
si=0
for s in "$@"; do
	pi=0
	for p in $PATTERNS; do
		port=$((20000 + si * 20 + pi))
		"$CM" peer "$p" "$port" "$T/peer.$port" "$T/us.$port" 2>"$T/peer.$port.err" &
		peers="$peers $!"
		with_shim "[client *];close = $s;[accepted *];close = $s" \
		    "$CM" us "$p" "$port" "$T/us.$port" "$T/done" 2>"$T/us.$port.err" &
		ours="$ours $!"
		pi=$((pi + 1))
	done
	si=$((si + 1))
done
for pid in $peers; do
	wait "$pid" || { cat "$T"/*.err >&2; fail "a peer failed"; }
done
sleep 0.3
ss -Htan state time-wait | awk '{ sub(/.*:/, "", $3); sub(/.*:/, "", $4); print $3, $4 }' >"$T/tw"
touch "$T/done"
for pid in $ours; do
	wait "$pid" || { cat "$T"/*.err >&2; fail "a side under test failed"; }
done

# tw_at PORT PATTERN: "here", "peer" or "none": where the cell's TIME_WAIT is.
tw_at() {
	if [ "$2" = serverfirst ]; then
		here=$(awk -v p="$1" '$1 == p' "$T/tw" | wc -l)
		there=$(awk -v p="$1" '$2 == p' "$T/tw" | wc -l)
	else
		here=$(awk -v p="$1" '$2 == p' "$T/tw" | wc -l)
		there=$(awk -v p="$1" '$1 == p' "$T/tw" | wc -l)
	fi
	if [ "$here" -gt 0 ]; then echo here
	elif [ "$there" -gt 0 ]; then echo peer
	else echo none
	fi
}

# cell PORT PATTERN STRATEGY: one line, "|" between the fields: strategy,
# pattern, how the peer's read ended, bytes lost (0/1), a reset after its
# EOF, its late write, a late EOF (0/1), TIME_WAIT, the text for the table,
# its shutdown(), its read after that shutdown, its first poll().
cell() {
	fields "$T/us.$1"
	sent=${F[sent]-} outq=${F[outq]-} close_ns=${F[close_ns]-}
	fields "$T/peer.$1"
	got=${F[got]-} end=${F[end]-} after=${F[reset_after]-} wrote=${F[late_write]-}
	eof_ns=${F[eof_ns]-} shut=${F[shutdown]-} linger=${F[linger_end]-} polled=${F[first_poll]-}
	if [ "$2" = slowpeer ] && [ "$outq" -le 0 ]; then
		fail "$3, slowpeer: nothing was unacknowledged at close (outq $outq)"
	fi
	# What the peer had to read: its requests, or all we sent.
	case $2 in
	rr | peerclose | peerlater | peershut) want=100 ;;
	pipelined) want=1000 ;;
	writelate) want=200 ;;
	*) want=$sent ;;
	esac
	[ "$got" -le "$want" ] || fail "$3, $2: the peer read $got bytes of $want"
	lost=0
	[ "$got" -lt "$want" ] && lost=1
	late=0
	case $3:$2 in
	*:slowpeer | *:halfclose | *:peerlater | *:peerpoll) ;;
	peer-first*) [ $((eof_ns - close_ns)) -ge $LATE_NS ] && late=1 ;;
	esac
	tw=$(tw_at "$1" "$2")

	case $end in
	EOF) text="EOF" ;;
	ECONNRESET) text="reset" ;;
	-) text="" ;;
	*) text="$end" ;;
	esac
	[ $lost = 1 ] && text="$text, bytes lost"
	[ $late = 1 ] && text="late $text"
	[ "$linger" != "-" ] && [ "$linger" != EOF ] && text="$text, read after shutdown $linger"
	case $polled:$after in
	*ERR*:*) ;;	# the reset came before; the poll says so
	*:EPIPE | *:ECONNRESET) text="$text, then reset" ;;
	esac
	[ "$polled" != "-" ] && text="poll $polled, $text"
	[ "$wrote" != "-" ] && text="write $wrote, $text"
	[ -n "$text" ] || text="(reads nothing)"
	case $tw in
	here) text="$text; TW here" ;;
	peer) text="$text; TW at peer" ;;
	esac
	echo "$3|$2|$end|$lost|$after|$wrote|$late|$tw|$text|$shut|$linger|$polled"
}

si=0
for s in "$@"; do
	pi=0
	for p in $PATTERNS; do
		cell $((20000 + si * 20 + pi)) "$p" "$s"
		pi=$((pi + 1))
	done
	si=$((si + 1))
done >"$T/cells"

# text STRATEGY PATTERN: the cell's text.
text() {
	awk -F'|' -v s="$1" -v p="$2" '$1 == s && $2 == p { print $9 }' "$T/cells"
}

# ---- the table as the documentation carries it ----

explain() {
	case $1 in
	rr) echo "we send a 100-byte request, read the 10 kB answer and close; the peer reads to EOF." ;;
	upload) echo "we send 100 kB and close; the peer reads to EOF." ;;
	banner) echo "the peer greets first (20 bytes, as SMTP or FTP do); we send 100 kB and close." ;;
	pipelined) echo "ten requests in one write, ten answers, then we close." ;;
	connect) echo "we connect and close without a byte (a health check)." ;;
	halfclose) echo "we send a request, shutdown(SHUT_WR), read the answer the peer sends after its EOF, and close." ;;
	peerclose) echo "request, response, and the peer closes the moment it reads EOF." ;;
	peerlater) echo "the peer answers and closes on its own, reading nothing more, just after our close (an HTTP/1.0 server)." ;;
	peershut) echo "request, response; at our EOF the peer shuts its side down (SHUT_WR) and reads until EOF or an error before it closes, as a server's lingering close does (Apache's, at the end of a keep-alive connection)." ;;
	writelate) echo "our second request goes unanswered; we give up after 100 ms and close; the peer answers 300 ms after our FIN (or reset) reached it, then reads." ;;
	slowpeer) echo "the peer sends 3 bytes, then reads only after 300 ms through a small window; we send 200 kB and close with most of it unacknowledged." ;;
	peerpoll) echo "the peer sends 3 bytes and is busy while we send 10 kB and close; 400 ms after our close it polls for POLLIN, then reads to EOF (an event loop that looks at revents before it reads)." ;;
	serverfirst) echo "we are the server (the strategy set for accepted sockets): we read a request, answer 10 kB and close; the peer reads to EOF, then closes." ;;
	esac
}

{
	printf '| strategy |'
	for p in $PATTERNS; do printf ' %s |' "$(title "$p")"; done
	printf '\n| --- |'
	for p in $PATTERNS; do printf ' --- |'; done
	printf '\n'
	for s in "$@"; do
		printf '| `%s` |' "$s"
		for p in $PATTERNS; do printf ' %s |' "$(text "$s" "$p" | sed 's/TW here/**TW here**/')"; done
		printf '\n'
	done
	cat <<'EOF'

Each cell says what the peer application saw. It read every byte unless
the cell says "bytes lost"; its read ended with `EOF` or with `reset`
(ECONNRESET); "then reset": a reset came after its EOF (poll reports
POLLERR, SO_ERROR is EPIPE, or ECONNRESET once the peer has shut its side
down; read still returns EOF); "late": the EOF came only after the
strategy's wait; "write ...": what a write it made after our close
returned; "poll ...": what its first poll() for POLLIN after our close
reported (IN, ERR, HUP: POLLIN, POLLERR, POLLHUP); with ERR, an event loop
that drops a connection on POLLERR before reading it loses the bytes it
has not read, although they are all still readable. **TW here**: TIME_WAIT
stayed on the side under twshim; "TW at peer": on the peer. Our side
closes only once the peer has acknowledged all we sent (except in "peer
slow to read"); unless a pattern says otherwise, the peer closes 300 ms
after its EOF.

EOF
	for p in $PATTERNS; do printf -- '- %s: %s\n' "$(title "$p")" "$(explain "$p")"; done
} >"$T/matrix.md"

{
	cat <<'EOF'
What the peer application saw, measured by
.I tests/integration/t_strategy_matrix.sh
on loopback.
It read every byte unless "bytes lost" is said; its read ended with EOF or
with "reset" (ECONNRESET); "then reset": a reset came after its EOF (poll
reports POLLERR, SO_ERROR is EPIPE, or ECONNRESET once the peer has shut
its side down; read still returns EOF); "late": the EOF came only after
the strategy's wait; "write ...": what a write it made after our close
returned; "poll ...": what its first poll() for POLLIN after our close
reported (IN, ERR, HUP: POLLIN, POLLERR, POLLHUP); with ERR, an event loop
that drops a connection on POLLERR before reading it loses the bytes it
has not read, although they are all still readable.
The side under twshim closes only once the peer has acknowledged all it
sent (except in "peer slow to read"); unless a pattern says otherwise, the
peer closes 300 ms after its EOF.
The patterns:
EOF
	for p in $PATTERNS; do printf '.TP\n.I %s\n%s\n' "$(title "$p")" "$(explain "$p")"; done
	printf '.PP\nWhat the peer saw, by strategy:\n'
	for s in "$@"; do
		printf '.TP\n.B %s\n' "$(echo "$s" | sed 's/-/\\-/g')"
		n=0
		for p in $PATTERNS; do
			[ $n -gt 0 ] && printf ';\n.br\n'
			printf '%s: %s' "$(title "$p")" \
			    "$(text "$s" "$p" | sed 's/TW here/TIME_WAIT here/; s/TW at peer/TIME_WAIT at the peer/')"
			n=$((n + 1))
		done
		printf '.\n'
	done
} >"$T/matrix.roff"
cat "$T/matrix.md"

# ---- what the documentation claims, checked cell by cell ----

has() {	# has STRATEGY: the strategy is in this run
	grep -q "^$1|" "$T/cells"
}

# expect STRATEGY PATTERNS FIELD VALUE WHAT: VALUE is a pattern as case
# takes it, so that one check can allow two outcomes: @(EPIPE|ECONNRESET).
shopt -s extglob
expect() {
	has "$1" || return 0
	for p in $2; do
		v=$(awk -F'|' -v s="$1" -v p="$p" -v f="$3" '$1 == s && $2 == p { print $f }' "$T/cells")
		case $v in
		$4) ;;
		*) fail "$1, $(title "$p"): $5 (the peer saw: $(text "$1" "$p"))" ;;
		esac
	done
}

END=3 LOST=4 AFTER=5 LATE=7 TWF=8 SHUT=10 LINGER=11 POLLED=12
reading="rr upload banner pipelined connect halfclose peerclose peershut writelate slowpeer peerpoll serverfirst"
answered="rr banner pipelined halfclose peerclose peerlater peershut writelate slowpeer peerpoll serverfirst"
for s in normal fin-then-reset "fin-then-reset always" "linger 1s" "graceful 1s"; do
	expect "$s" "$reading" $END EOF "every byte, then EOF"
	expect "$s" "$reading" $LOST 0 "every byte, then EOF"
done
expect fin-then-reset "$answered" $TWF none "no TIME_WAIT where the peer answered"
expect fin-then-reset "upload connect" $TWF here "the program's own close where the peer sent nothing"
expect "fin-then-reset always" "$PATTERNS" $TWF none "no TIME_WAIT, ever"
expect normal "rr upload banner pipelined connect halfclose peerclose peerlater peershut slowpeer peerpoll serverfirst" \
    $TWF here "TIME_WAIT here when we close first"
expect "graceful 1s" "$PATTERNS" $TWF here "TIME_WAIT here"
expect abort "rr upload banner pipelined connect peerclose peershut slowpeer peerpoll serverfirst" $END ECONNRESET \
    "the peer's read fails with ECONNRESET"
expect abort slowpeer $LOST 1 "unsent data is lost"
expect abort "$PATTERNS" $TWF none "no TIME_WAIT, ever"
expect abort-if-idle "rr upload pipelined connect peershut peerpoll serverfirst" $END ECONNRESET \
    "the bytes arrive, then the peer's read fails with ECONNRESET"
expect abort-if-idle "rr upload pipelined connect peershut peerpoll serverfirst" $LOST 0 "no byte lost"
expect abort-if-idle slowpeer $TWF here "a normal close while data is in flight"
for s in "peer-first 200ms" "peer-first 200ms then fin-then-reset" "peer-first 200ms then abort-if-idle"; do
	expect "$s" "rr upload connect peershut serverfirst" $LATE 1 "a peer reading to EOF waits DUR for it"
	expect "$s" peerlater $TWF peer "a peer that closes within DUR keeps the TIME_WAIT"
done
expect "peer-first 200ms then fin-then-reset" "$reading" $END EOF "every byte, then EOF"

# A peer that shuts its side down at our EOF and waits: bare, its shutdown
# and its read after it go as they should and no reset comes; under
# fin-then-reset our side is gone once the peer's FIN acknowledges ours,
# so that FIN is answered with a reset while the peer waits (its reads
# still end in EOF).
for s in normal "linger 1s" "graceful 1s"; do
	expect "$s" peershut $SHUT ok "the peer's shutdown(SHUT_WR) succeeds"
	expect "$s" peershut $LINGER EOF "the peer's read after its shutdown ends in EOF"
	expect "$s" peershut $AFTER none "no reset while the peer waits"
done
for s in fin-then-reset "fin-then-reset always" "peer-first 200ms then fin-then-reset"; do
	expect "$s" peershut $LINGER EOF "the peer's read after its shutdown still ends in EOF"
	expect "$s" peershut $AFTER "@(ECONNRESET|EPIPE)" "a reset reaches the peer while it waits"
done
# A peer that polls only well after our close: bare, POLLIN alone; under
# fin-then-reset (and abort) the reset has come first, so POLLERR and
# POLLHUP come with POLLIN, its bytes all still unread and readable.
for s in normal "linger 1s" "graceful 1s" "peer-first 200ms"; do
	expect "$s" peerpoll $POLLED IN "the peer's first poll reports POLLIN alone"
done
for s in fin-then-reset "fin-then-reset always" "peer-first 200ms then fin-then-reset" abort abort-if-idle; do
	expect "$s" peerpoll $POLLED IN+ERR+HUP "the peer's first poll reports POLLERR and POLLHUP with POLLIN"
	expect "$s" peerpoll $LOST 0 "the bytes are all still readable after the reset"
done

# ---- the documentation carries this very table ----

# block FILE BEGIN END: the lines between the markers.
# (Through the environment: awk -v would take the backslash of .\" away.)
block() {
	MB=$2 ME=$3 awk '$0 == ENVIRON["ME"] { on = 0 } on { print } $0 == ENVIRON["MB"] { on = 1 }' "$1"
}

# splice FILE BEGIN END NEW: the lines between the markers replaced by NEW.
splice() {
	MB=$2 ME=$3 NEW=$4 awk '
	    $0 == ENVIRON["ME"] { on = 0 }
	    !on { print }
	    $0 == ENVIRON["MB"] { on = 1; while ((getline l < ENVIRON["NEW"]) > 0) print l }' "$1" >"$1.new" &&
	    mv "$1.new" "$1"
}

docs_ok=1
if [ -n "${MATRIX_STRATEGIES:-}" ] && [ "${MATRIX_UPDATE:-0}" != 1 ]; then
	echo "MATRIX_STRATEGIES is set: the documentation's table is not compared"
	exit 0
fi
for doc in "README.md|<!-- matrix begin -->|<!-- matrix end -->|matrix.md" \
    "man/twshim.conf.5|.\\\" matrix begin|.\\\" matrix end|matrix.roff"; do
	IFS='|' read -r file begin finish gen <<EOF
$doc
EOF
	grep -qxF "$begin" "$file" || fail "$file has no line '$begin'"
	if [ "${MATRIX_UPDATE:-0}" = 1 ]; then
		splice "$file" "$begin" "$finish" "$T/$gen"
		echo "wrote the table into $file"
	elif ! block "$file" "$begin" "$finish" | diff -u - "$T/$gen" >"$T/diff"; then
		cat "$T/diff"
		echo "$file: the table differs from the one measured; make matrix writes it" >&2
		docs_ok=0
	fi
done
if [ -n "${MATRIX_OUT:-}" ]; then
	cp "$T/matrix.md" "$T/matrix.roff" "$T/cells" "$MATRIX_OUT"/
fi
[ "$docs_ok" = 1 ] || fail "the documentation's table is not the measured one"
echo "the documentation's table is the measured one"
