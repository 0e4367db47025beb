#!/usr/bin/env bash
# Stops the daemons that slurm-up.sh started (recorded in $STATE_DIR/started), by their pid files.
# A munged that was running before slurm-up.sh is left alone.
set -uo pipefail
STATE_DIR=${SLURM_CI_STATE:-/run/astromer-slurm-ci}
STARTED="$STATE_DIR/started"
[ -f "$STARTED" ] || { echo "slurm-down: nothing recorded in $STARTED"; exit 0; }

pidfile_of() {
  case "$1" in
    slurmd) echo /run/slurmd.pid ;;
    slurmctld) echo /run/slurmctld.pid ;;
    munged) echo /run/munge/munged.pid ;;
  esac
}

# cancel what is still queued so slurmd has no job steps left behind
command -v scancel >/dev/null && scancel --user "$(id -un)" 2>/dev/null || true

# stop in reverse start order
for daemon in $(tac "$STARTED"); do
  pf=$(pidfile_of "$daemon")
  if [ -n "$pf" ] && [ -s "$pf" ]; then
    pid=$(cat "$pf")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    echo "slurm-down: stopped $daemon (pid $pid)"
  fi
done
rm -f "$STARTED"
