# The launcher's own checks: it refuses to run setuid; a stale or foreign
# libtwshim.so in LD_PRELOAD is replaced, and said; programs of another
# class or machine, and Go programs, are told from their ELF headers (not
# from a string inside); a bad policy is said once; a policy is read only
# from a regular file (a FIFO never makes it wait); a file of errors lists
# the first 100; --explain names the program the library will see.
. tests/integration/lib.sh

chmod 755 "$T"
as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"

# A setuid copy, run by someone else, reads no file for them.
mkdir -m 755 "$T/bin"
cp "$TW" "$B/libtwshim.so" "$T/bin/"
chmod 4755 "$T/bin/twshim"
printf 'pid=1\nprogram=ROOT-ONLY-SECRET\n' >"$T/secret"
chmod 600 "$T/secret"
$as_nobody "$T/bin/twshim" --stats "$T/secret" >"$T/out" 2>"$T/err"
rc=$?
cat "$T/out" "$T/err"
assert_eq "$rc" 125 "a setuid copy refuses to run"
assert_lacks "$T/out" "SECRET" "and prints nothing of a root-only file"
assert_has "$T/err" "refusing to run setuid" "and says why"

# LD_PRELOAD naming a missing libtwshim.so, or another one: replaced.
LD_PRELOAD=/nonexistent/libtwshim.so "$TW" sh -c 'echo "$LD_PRELOAD"' >"$T/pre" 2>"$T/err"
cat "$T/pre" "$T/err"
assert_eq "$(cat "$T/pre")" "$B/libtwshim.so" "the missing library replaced"
assert_has "$T/err" "named /nonexistent/libtwshim.so, which does not exist" "and said"
mkdir "$T/old"
cp "$B/libtwshim.so" "$T/old/libtwshim.so"
LD_PRELOAD="$T/old/libtwshim.so:/lib/x86_64-linux-gnu/libm.so.6" "$TW" sh -c 'echo "$LD_PRELOAD"' \
    >"$T/pre" 2>"$T/err"
assert_eq "$(cat "$T/pre")" "$B/libtwshim.so:/lib/x86_64-linux-gnu/libm.so.6" "another copy replaced"
assert_has "$T/err" "another libtwshim.so" "and said"
LD_PRELOAD="$B/libtwshim.so" "$TW" sh -c 'echo "$LD_PRELOAD"' >"$T/pre" 2>"$T/err"
assert_eq "$(cat "$T/pre")" "$B/libtwshim.so" "this very library kept, once"
[ -s "$T/err" ] && fail "nothing to say when it is this library: $(cat "$T/err")"

# Another machine (arm64), another class (a 32-bit i386 header): warned.
cp /bin/true "$T/arm64"
printf '\267\000' | dd of="$T/arm64" bs=1 seek=18 conv=notrunc 2>/dev/null
python3 -c '
import struct, sys
hdr = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
hdr += struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x8048000, 0, 0, 0, 52, 32, 0, 40, 0, 0)
open(sys.argv[1], "wb").write(hdr)' "$T/i386"
chmod 755 "$T/i386"
"$TW" "$T/arm64" >/dev/null 2>"$T/w1"
"$TW" "$T/i386" >/dev/null 2>"$T/w2"
cat "$T/w1" "$T/w2"
assert_has "$T/w1" "is a 64-bit arm64 program" "the other machine named"
assert_has "$T/w2" "is a 32-bit i386 program" "the other class named"
assert_has "$T/w2" "will run unchanged" "and what follows"
# A C program with the text "runtime.goexit" is not Go; one with the Go
# linker's build-ID note is.
printf '#include <stdio.h>\nint main(int c, char **v) { if (c > 9) puts("runtime.goexit"); return 0; }\n' \
    >"$T/c.c"
cc -o "$T/cprog" "$T/c.c"
"$TW" "$T/cprog" 2>"$T/w3"
assert_eq $? 0 "the C program ran"
assert_lacks "$T/w3" "Go program" "a string is not a Go runtime"
printf '%s\n' '#include <stdint.h>' \
    'struct note { uint32_t namesz, descsz, type; char name[4], desc[4]; };' \
    '__attribute__((section(".note.go.buildid"), aligned(4), used))' \
    'static const struct note go = { 3, 4, 4, "Go", "abcd" };' \
    'int main(void) { return 5; }' >"$T/gonote.c"
cc -o "$T/gonote" "$T/gonote.c"
"$TW" "$T/gonote" 2>"$T/w4"
assert_eq $? 5 "the program with a Go note ran"
assert_has "$T/w4" "is a Go program" "the Go build-ID note recognised"

# A bad policy from the environment: said once, by the launcher alone.
TWSHIM_POLICY_TEXT='[client *];close = bogus' "$TW" -- sh -c 'exit 3' 2>"$T/err"
assert_eq $? 3 "passthrough: the program ran"
cat "$T/err"
assert_eq "$(grep -c "unknown close strategy 'bogus'" "$T/err")" 1 "the error said once"

# A FIFO or a directory as the policy: an error at once, never a wait.
mkfifo "$T/fifo"
timeout 10 "$TW" --check "$T/fifo" 2>"$T/err"
assert_eq $? 1 "--check of a FIFO fails"
assert_has "$T/err" "cannot read $T/fifo: not a regular file" "and says why"
timeout 10 "$TW" --check "$T" 2>"$T/err"
assert_eq $? 1 "--check of a directory fails"
printf '[client *]\nclose = abort\n' >"$T/real.conf"
ln -s "$T/real.conf" "$T/link.conf"
"$TW" --check "$T/link.conf" >/dev/null 2>&1
assert_eq $? 0 "a symbolic link to a regular policy file is read"
timeout 10 "$TW" -p "$T/fifo" true 2>"$T/err"
assert_eq $? 125 "-p FIFO: a usage error"
TWSHIM_POLICY="$T/fifo" timeout 10 "$TW" -- sh -c 'exit 4' 2>"$T/err"
assert_eq $? 4 "TWSHIM_POLICY=FIFO through the launcher: the program runs"
TWSHIM_POLICY="$T/fifo" timeout 10 env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
    sh -c 'exit 4' 2>"$T/err"
assert_eq $? 4 "TWSHIM_POLICY=FIFO to the library: the program runs"
assert_has "$T/err" "not a regular file" "after saying why"

# 1 MiB of errors: the first 100 listed, then the count of the rest.
python3 -c 'import sys; sys.stdout.write("x\n" * 524288)' >"$T/big.conf"
"$TW" --check "$T/big.conf" >/dev/null 2>"$T/err"
assert_eq $? 1 "a policy of errors fails"
assert_eq "$(wc -l <"$T/err")" 102 "100 errors, the count of the rest, the total"
assert_has "$T/err" "big.conf: and 524188 more errors" "the rest counted"

# --explain PROGRAM for a script: the library sees its interpreter, and so
# does --explain.
printf '#!/usr/bin/env python3\nimport socket\nsocket.create_connection(("127.0.0.1", 7088)).close()\n' \
    >"$T/myclient.py"
chmod 755 "$T/myclient.py"
printf '[client *]\nprogram = myclient.py\nclose = abort\n' >"$T/p.conf"
(cd "$T" && "$TW" --explain p.conf client 127.0.0.1:7088 myclient.py) >"$T/ex"
cat "$T/ex"
assert_has "$T/ex" "is a script (#!/usr/bin/env python3): 'program =' is matched against python3" "explain tells"
assert_has "$T/ex" "no rule applies" "and applies no rule for it"
echo_server 127.0.0.1 7088 "$T/server.log"
(cd "$T" && TWSHIM_STATS="$T/st" "$TW" -p p.conf ./myclient.py)
assert_eq "$(stat_of program "$T/st")" python3 "the library sees python3"
assert_eq "$(stat_of close_abort "$T/st")" 0 "and applies no rule for myclient.py either"
