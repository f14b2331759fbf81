#!/bin/bash
# One Dovecot exporter event per POST against a built `tallyd serve`, on 1 and
# on 8 keep-alive connections (wrk, bench/e2e/one-event.lua): requests/s,
# events counted (from the dump), CPU of the whole tallyd process from
# /proc/<pid>/stat (utime+stime), events per CPU-second; then GET /livez on
# the same server (the transport's ceiling, nothing ingested) and the idle CPU.
#
#   npm run build && bench/e2e/one-event.sh [PORT] [SECONDS]
set -eu
cd "$(dirname "$0")/../.."
PORT=${1:-19400}; DUR=${2:-10}
URL=http://127.0.0.1:$PORT
node bin/tallyd.js serve --listen 127.0.0.1:$PORT >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf $URL/readyz >/dev/null && break; sleep 0.1; done
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
counted() { curl -s "$URL/v1/stats/dump?fields=count" | awk '$1=="imap_command"{print $3; exit}'; }
wrk -t1 -c1 -d2s -s bench/e2e/one-event.lua $URL/v1/events >/dev/null   # warm-up
for spec in "-t1 -c1" "-t2 -c8"; do
  c0=$(cpu); n0=$(counted)
  out=$(wrk $spec -d${DUR}s -s bench/e2e/one-event.lua $URL/v1/events)
  c1=$(cpu); n1=$(counted)
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  n=$(( ${n1:-0} - ${n0:-0} ))
  echo "wrk $spec: $rps requests/s, $n events counted, $(echo "scale=2; ($c1-$c0)/$TCK" | bc) CPU-s," \
    "$(echo "$n*$TCK/($c1-$c0)" | bc) events per CPU-second, non-2xx ${non2xx:-0} | $(echo "$out" | grep '^requests')"
done
# the ceiling of this server and this client on this machine: GET /livez, nothing ingested
for spec in "-t1 -c1" "-t2 -c8"; do
  c0=$(cpu)
  rps=$(wrk $spec -d${DUR}s $URL/livez | awk '/Requests\/sec/{print $2}')
  c1=$(cpu)
  echo "wrk $spec GET /livez: $rps requests/s, $(echo "scale=2; ($c1-$c0)/$TCK" | bc) CPU-s"
done
c0=$(cpu); sleep 3; c1=$(cpu)
echo "idle: $(echo "scale=2; ($c1-$c0)/$TCK" | bc) CPU-s in 3 s"
