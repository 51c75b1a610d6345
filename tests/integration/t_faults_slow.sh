# A slow reader through late duplicates: the client sends 4 KiB, then reads
# the 256 KiB answer only after 30 ms, so the server meets a zero window and
# probes it; 4 connections at a time.  MTU 9000, 10 local ports (the system
# range, then a local_ports pool), 5% of the packets duplicated and
# delivered 0-5 or 0-50 ms late, TCP timestamps on and off.  Every byte and
# EOF, nothing foreign, nothing hung; with timestamps on, a good share of
# the connections completes.
. tests/integration/lib.sh
. tests/integration/faults.sh

faults_matrix slow 4 200 -m slow -z 30 -q 4096 -r 262144 -t 3000 -- -P 4
faults_verdict
