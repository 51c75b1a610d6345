# Upload through late duplicates: the server greets with 64 bytes (so the
# client's connection counts as answered), the client sends 256 KiB and
# closes at once, perhaps with its data still in flight; the server reads to
# EOF.  MTU 9000, 10 local ports (the system range, then a local_ports
# pool), 5% of the packets duplicated and delivered 0-5 or 0-50 ms late,
# TCP timestamps on and off.  Every byte and EOF, nothing foreign, nothing
# hung; with timestamps on, a good share of the connections completes.
. tests/integration/lib.sh
. tests/integration/faults.sh

faults_matrix upload 3 1000 -m upload -g 64 -q 262144 -t 3000
faults_verdict
