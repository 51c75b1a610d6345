# --explain and --check as a run sees things: no POLICY means the policy a
# run would use; PROGRAM, a path or a script, is named as the library names
# it (checked against what the library really does); --check takes several
# files; a bare IPv6 address that reads as ADDR:PORT is refused with the
# fix.  And what is said once per program, not once per process: warnings
# about the environment, and "policy loaded" under -v.
. tests/integration/lib.sh

unset TWSHIM_POLICY TWSHIM_POLICY_TEXT
mkdir -p "$T/bin"

# 1. No POLICY: the built-in default, or the one in the environment.
"$TW" --explain client 192.0.2.1:80 >"$T/e1" 2>&1
rc=$?
cat "$T/e1"
assert_eq "$rc" 0 "--explain without a policy"
assert_has "$T/e1" "the built-in default policy" "it says which"
assert_has "$T/e1" "close = fin-then-reset" "and explains the default"
TWSHIM_POLICY_TEXT='[client *];close = linger 1s' "$TW" --explain client 192.0.2.1:80 >"$T/e2"
cat "$T/e2"
assert_has "$T/e2" "close = linger 1s" "TWSHIM_POLICY_TEXT, as a run reads it"

# 2. PROGRAM given by path: matched by its last part, as at run time.  The
# library agrees: a copy of sockops run by its path applies the same rule.
cp "$OPS" "$T/bin/myclient"
echo_server 127.0.0.1 7091 "$T/server.log"
pol='[client *];program = myclient;close = abort'
"$TW" --explain -e "$pol" client 127.0.0.1:7091 "$T/bin/myclient" >"$T/e3"
cat "$T/e3"
assert_has "$T/e3" "close = abort" "a path names the program by its last part"
assert_lacks "$T/e3" "skipped" "the section is not skipped"
TWSHIM_STATS=$T/st "$TW" -e "$pol" -- "$T/bin/myclient" sock a , connect a 127.0.0.1 7091 , \
    close a >/dev/null
assert_eq "$(stat_of program "$T/st")" myclient "the library names it the same"
assert_eq "$(stat_of close_abort "$T/st")" 1 "and applies the same rule"

# 3. A script names its interpreter, with its #! line, and what
# "program =" is matched against.
printf '#!/usr/bin/env python3\nprint(1)\n' >"$T/bin/job.py"
printf '#!/bin/sh\ntrue\n' >"$T/bin/job.sh"
chmod 755 "$T/bin/job.py" "$T/bin/job.sh"
"$TW" --explain -e "$pol" client 127.0.0.1:7091 "$T/bin/job.py" >"$T/e4"
"$TW" --explain -e "$pol" client 127.0.0.1:7091 "$T/bin/job.sh" >"$T/e5"
cat "$T/e4" "$T/e5"
assert_has "$T/e4" "(#!/usr/bin/env python3): 'program =' is matched against python3" "env script"
assert_has "$T/e5" "(#!/bin/sh): 'program =' is matched against sh" "direct interpreter"
# The library names a script's process as --explain does.
printf '#!/usr/bin/python3\nimport socket\nsocket.create_connection(("127.0.0.1", 7091)).close()\n' \
    >"$T/bin/conn.py"
chmod 755 "$T/bin/conn.py"
"$TW" --explain -e '[client *];program = python3;close = abort' client 127.0.0.1:7091 \
    "$T/bin/conn.py" >"$T/e6"
cat "$T/e6"
assert_has "$T/e6" "(#!/usr/bin/python3): 'program =' is matched against python3" "#!/usr/bin/python3"
assert_has "$T/e6" "close = abort" "and its section applies"
TWSHIM_STATS=$T/st2 "$TW" -e '[client *];program = python3;close = abort' -- "$T/bin/conn.py"
assert_eq "$(stat_of program "$T/st2")" python3 "the library sees the interpreter too"
assert_eq "$(stat_of close_abort "$T/st2")" 1 "and applies that section"

# 4. --check takes several files: each is said, and one bad file fails.
printf '[client *]\nclose = abort\n' >"$T/good.conf"
printf '[client *]\nclose = sometimes\n' >"$T/bad.conf"
"$TW" --check "$T/good.conf" "$T/good.conf" >"$T/c1" 2>&1
assert_eq $? 0 "--check of two good files"
assert_eq "$(grep -c ': ok$' "$T/c1")" 2 "both said ok"
"$TW" --check "$T/good.conf" "$T/bad.conf" "$T/good.conf" >"$T/c2" 2>&1
rc=$?
cat "$T/c2"
assert_eq "$rc" 1 "--check with a bad file among them"
assert_has "$T/c2" "bad.conf:2:9:" "its error named"
assert_eq "$(grep -c ': ok$' "$T/c2")" 2 "and the others still checked"

# 5. [client ::1:6379] is the address ::1:6379 with any port: refused, with
# the two spellings that say one thing each.
"$TW" --check -e '[client ::1:6379];close = abort' >"$T/c3" 2>&1
rc=$?
cat "$T/c3"
assert_eq "$rc" 1 "a bare IPv6 address ending in a port number"
assert_has "$T/c3" "write [::1]:6379" "the fix for the port"
assert_has "$T/c3" "[::1:6379]" "and for the address"
"$TW" --check -e '[client ::1];close = abort;[client fe80::/64];close = abort' >/dev/null 2>&1
assert_eq $? 0 "a bare IPv6 address or prefix without such an ending is fine"

# 6. Said once per program, not once per process: a wrapper script that
# starts three commands (none by exec) under the launcher.
printf '#!/bin/sh\n/bin/true\n/bin/true\nls / >/dev/null\n' >"$T/bin/wrap"
chmod 755 "$T/bin/wrap"
TWSHIM_LOG=verbose TWSHIM_LGO=info "$TW" -- "$T/bin/wrap" 2>"$T/w1"
cat "$T/w1"
assert_eq "$(grep -c 'TWSHIM_LOG=verbose ignored' "$T/w1")" 1 "a bad TWSHIM_LOG said once"
assert_eq "$(grep -c 'unknown variable TWSHIM_LGO' "$T/w1")" 1 "an unknown variable said once"
TWSHIM_LGO=1 "$TW" -q -- "$T/bin/wrap" 2>"$T/w1q"
assert_eq "$(wc -c <"$T/w1q")" 0 "-q hides them"
"$TW" -v -- "$T/bin/wrap" 2>"$T/w2"
cat "$T/w2"
assert_eq "$(grep -c 'policy <default> loaded' "$T/w2")" 1 "-v: policy loaded said once"
assert_has "$T/w2" "twshim: sh[" "by the program the launcher started (the script's shell)"
# A program that replaces the first by exec is the program now, and says it.
printf '#!/bin/sh\n/bin/true\nexec /bin/true\n' >"$T/bin/wrapexec"
chmod 755 "$T/bin/wrapexec"
"$TW" -v -- "$T/bin/wrapexec" 2>"$T/w2x"
cat "$T/w2x"
assert_eq "$(grep -c 'policy <default> loaded' "$T/w2x")" 2 "-v: once by sh, once by what it execs"
assert_has "$T/w2x" "twshim: true[" "the program exec'd"
# A switch given another value than 0 or 1 is said to do nothing.
TWSHIM_STATS_SIGNAL=yes "$TW" -- "$T/bin/wrap" 2>"$T/w5"
cat "$T/w5"
assert_eq "$(grep -c 'TWSHIM_STATS_SIGNAL=yes ignored: 1 turns it on' "$T/w5")" 1 "a bad switch said once"
# The other processes still say it at level debug.
TWSHIM_LOG=debug "$TW" -- "$T/bin/wrap" 2>"$T/w3"
assert_ge "$(grep -c 'policy <default> loaded' "$T/w3")" 3 "at debug, every process"
# Without the launcher every process speaks for itself (there is no way
# to tell which one was started first).
TWSHIM_LGO=1 env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" /bin/true 2>"$T/w4"
assert_has "$T/w4" "unknown variable TWSHIM_LGO" "without the launcher too"

# 7. Every TWSHIM_ variable the sources read or set is known to the check.
names=$(grep -rhoE '(getenv|setenv|unsetenv)\("TWSHIM_[A-Z_]+"' shim policy launcher |
    sed 's/.*"\(TWSHIM_[A-Z_]*\)"/\1/' | sort -u)
[ -n "$names" ] || fail "no variables found in the sources"
for n in $names; do
	(cd "$T" && env "$n=" LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" /bin/true) 2>"$T/k"
	assert_lacks "$T/k" "unknown variable" "$n is known"
done
echo "known: $names" | tr '\n' ' '
echo
