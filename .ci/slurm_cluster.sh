#!/usr/bin/env bash
# A single-node SLURM cluster for the SLURM tests (tests/test_slurm.py), as root on Debian:
#
#   eval "$(.ci/slurm_cluster.sh start)"   # installs (apt), starts, waits until idle;
#                                           # prints `export SLURM_CONF=...`
#   .ci/slurm_cluster.sh stop               # cancels its jobs, stops what it started by PID
#
# Everything lives under $AMUP_SLURM_DIR (default /tmp/amup-slurm): its own slurm.conf (given
# to every command through SLURM_CONF), munge key and socket, MariaDB data directory and ports
# from $AMUP_SLURM_PORT (default 16817: slurmctld, +1 slurmd, +2 slurmdbd, +3 MariaDB), so it
# never touches a cluster or a database this machine already has. The daemons are started
# directly (no systemd): munged, mariadbd, slurmdbd (accounting: without it submitit cannot
# see a job SLURM killed), slurmctld and slurmd for one node with this machine's CPUs and a
# RealMemory under `free -m`.
set -euo pipefail

DIR=${AMUP_SLURM_DIR:-/tmp/amup-slurm}
PORT=${AMUP_SLURM_PORT:-16817}
CONF=$DIR/etc/slurm.conf
CLUSTER=amup
PARTITION=debug
export SLURM_CONF=$CONF

say() { echo "slurm_cluster: $*" >&2; }
die() { say "$*"; exit 1; }

alive() {  # alive NAME: its pid file names a running NAME (not a PID reused since)
  local pidfile=$DIR/run/$1.pid
  [[ -s $pidfile && $(ps -p "$(cat "$pidfile")" -o comm= 2>/dev/null) == "$1" ]]
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up in time; logs: $DIR/log"
    sleep 0.5
  done
}

install_packages() {
  local need=()
  for bin in slurmctld slurmd sinfo munged slurmdbd mariadbd; do
    command -v "$bin" >/dev/null || need=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
  done
  ((${#need[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "installing ${need[*]} needs root (apt-get)"
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

need_port() {  # need_port PORT: nothing listens there yet
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 is taken: choose other ports with AMUP_SLURM_PORT=<base>"
  fi
}

write_config() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')  # RealMemory must not exceed free -m
  mkdir -p "$DIR"/{etc,run,log,state,spool,munge,mysql}
  chmod 700 "$DIR/munge"
  # Short waits for tests: a requeued job starts again after cred_expire (default 120 s), a
  # pending job at the next scheduler pass (default 60 s), and scancel's SIGTERM (which
  # submitit ignores) turns into SIGKILL after KillWait (default 30 s).
  cat >"$CONF" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
ReturnToService=2
KillWait=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$DIR/munge/munge.socket
NodeName=$host NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$DIR/etc/slurmdbd.conf"  # slurmdbd refuses a readable one
}

start_munge() {
  mungekey --create --keyfile="$DIR/munge/munge.key" >&2
  munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  wait_for 20 munged munge --socket="$DIR/munge/munge.socket" -n
}

mysql() { mariadb --user=root --socket="$DIR/mysql/mysqld.sock" "$@"; }

start_mariadb() {
  mariadb-install-db --user=root --datadir="$DIR/mysql/data" --skip-test-db \
    --auth-root-authentication-method=socket >"$DIR/log/mariadb-install.log" 2>&1
  need_port $((PORT + 3))
  setsid mariadbd --user=root --datadir="$DIR/mysql/data" --socket="$DIR/mysql/mysqld.sock" \
    --port=$((PORT + 3)) --bind-address=127.0.0.1 --pid-file="$DIR/run/mariadbd.pid" \
    --log-error="$DIR/log/mariadbd.log" --skip-log-bin </dev/null >/dev/null 2>&1 &
  wait_for 60 mariadbd mysql -e "SELECT 1"
  mysql -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start_slurm() {
  need_port $((PORT + 2))
  slurmdbd
  wait_for 60 slurmdbd sacctmgr -n list cluster
  sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null
  need_port "$PORT"
  slurmctld
  wait_for 60 slurmctld scontrol ping
  need_port $((PORT + 1))
  slurmd -N "$(hostname -s)"
  local deadline=$((SECONDS + 90))
  until [[ $(sinfo -h -N -p "$PARTITION" -o %T 2>/dev/null) == idle ]]; do
    ((SECONDS < deadline)) || die "the node is not idle: $(sinfo -N -l 2>&1); logs: $DIR/log"
    sleep 1
  done
}

start() {  # a fresh cluster (its jobs, accounts and logs anew), unless this one is up
  install_packages
  if alive slurmctld && timeout 10 sinfo >/dev/null 2>&1; then
    say "already up"
    echo "export SLURM_CONF=$CONF"
    return
  fi
  stop 2>/dev/null  # what an earlier start left
  rm -rf "${DIR:?}"/{etc,run,log,state,spool,munge,mysql}
  trap 'say "start failed: stopping what it started"; stop' EXIT
  write_config
  start_munge
  start_mariadb
  start_slurm
  trap - EXIT
  say "up: $(sinfo -h -o '%P %a %D %c CPUs %m MB %T')"
  echo "export SLURM_CONF=$CONF"
}

stop_pid() {  # stop_pid NAME: SIGTERM, up to 30 s, then SIGKILL
  if alive "$1"; then
    local pid
    pid=$(cat "$DIR/run/$1.pid")
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$DIR/run/$1.pid"
}

stop() {
  if alive slurmctld; then  # this cluster's jobs only: SLURM_CONF is its own
    timeout 30 scancel --full --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 30); do
      [[ -z $(timeout 10 squeue -h -o %i 2>/dev/null) ]] && break
      sleep 1
    done
  fi
  for name in slurmd slurmctld slurmdbd mariadbd munged; do stop_pid "$name"; done
  say "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
