#!/usr/bin/env bash
# Single-node Slurm on localhost for the workflow's Slurm test (Debian 12: slurm-wlm 22.05, munge).
# Follows the tested recipe in ../shared/docs/slurm-local.md: no systemd, no cgroups, no slurmdbd
# (status queries go through squeue), and FAKE_GPUS fake "a100" GPUs declared through GRES device
# files that are symlinks to /dev/null (Slurm refuses a count-only GPU GRES).
# Run as root. Re-running restarts the daemons with fresh state.
# Every daemon this script starts is recorded in $STATE_DIR/started so that slurm-down.sh stops
# exactly those (and leaves a munged that was already running alone).
#   FAKE_GPUS=2          number of fake GPUs
#   KILL_WAIT=5          seconds between SIGTERM and SIGKILL at a job's time limit (Slurm default 30)
set -euo pipefail
GPUS=${FAKE_GPUS:-2}
KILL_WAIT=${KILL_WAIT:-5}
STATE_DIR=${SLURM_CI_STATE:-/run/astromer-slurm-ci}
mkdir -p "$STATE_DIR"
touch "$STATE_DIR/started"   # kept across re-runs: a daemon started by an earlier run is still ours
record() { grep -qx "$1" "$STATE_DIR/started" || echo "$1" >> "$STATE_DIR/started"; }

HOST=$(hostname -s)                 # slurmctld refuses to start unless SlurmctldHost == this
getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >> /etc/hosts
NCPU=$(nproc)
# RealMemory must not exceed what slurmd detects; leave ~25% to the OS
MEM_MB=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 3 / 4 ))

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
chown munge:munge /run/munge; chmod 0755 /run/munge

cat > /etc/slurm/slurm.conf <<EOF
ClusterName=localci
SlurmctldHost=${HOST}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# no cgroups: plain process tracking, no task binding (so no cgroup.conf needed)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No accounting DB: sacct answers "accounting storage is disabled", so Snakemake must use
# slurm-status-command: squeue (AccountingStorageTRES=gres/gpu here would be fatal without slurmdbd)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# keep finished jobs visible to squeue for 10 min (the plugin's squeue status needs >= 3x its
# first-check delay, else it silently falls back to sacct)
MinJobAge=600
# a job at its time limit gets SIGTERM, then SIGKILL KILL_WAIT s later (training saves on SIGTERM)
KillWait=${KILL_WAIT}
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without this a job with no --mem gets the whole node's memory and jobs run one at a time
DefMemPerCPU=1024
ReturnToService=2
GresTypes=gpu
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${NCPU} RealMemory=${MEM_MB} Gres=gpu:a100:${GPUS} State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL Default=NO  MaxTime=INFINITE State=UP
EOF

mkdir -p /var/lib/slurm-fakegpu
for i in $(seq 0 $((GPUS-1))); do ln -sfn /dev/null /var/lib/slurm-fakegpu/gpu$i; done
cat > /etc/slurm/gres.conf <<EOF
NodeName=${HOST} Name=gpu Type=a100 File=/var/lib/slurm-fakegpu/gpu[0-$((GPUS-1))]
EOF

# stop our own earlier daemons (by the pid files they wrote), then start fresh
for pf in /run/slurmd.pid /run/slurmctld.pid; do
  if [ -s "$pf" ]; then kill "$(cat "$pf")" 2>/dev/null || true; fi
done
sleep 1
rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*

if ! runuser -u munge -- munge -n </dev/null >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  record munged
fi
/usr/sbin/slurmctld
record slurmctld
/usr/sbin/slurmd
record slurmd

state=""
for i in $(seq 1 30); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  [ "$state" = "idle" ] && break
  sleep 1
done
sinfo -N -o '%N %P %t %c %m %G' || true
if [ "$state" != "idle" ]; then
  echo "node not idle: '$state'" >&2
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
  exit 1
fi
