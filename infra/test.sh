#!/usr/bin/env bash
# THE test command: starts the real engines (Kafka-compatible tansu, PostgreSQL,
# Redis, Mosquitto) on loopback, builds the workspace and runs every test with
# cargo-nextest. Extra arguments go to `cargo nextest run`, e.g.
#   infra/test.sh -p brain-core          infra/test.sh kafka_conformance
# Exits with nextest's status; engines this run started are stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

# Outside the work tree: a fresh clone (CI) reuses the warm build cache.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/industry-brain/target}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

if ! cargo nextest --version >/dev/null 2>&1; then
	echo "test.sh: cargo-nextest missing; installing it (cargo install --locked cargo-nextest)" >&2
	cargo install --locked cargo-nextest
fi

# Our lease on the shared engines: `down` stops only engines engines.sh started,
# and only once no other test run still holds a lease on them.
export BRAIN_ENGINES_LEASE=$$
trap '"$here/engines.sh" down || echo "test.sh: engines.sh down failed" >&2' EXIT
# Make Ctrl-C / kill run the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/engines.sh" up
eval "$("$here/engines.sh" env)"

cat <<BANNER
== Industry Brain tests: conformance suites run against real engines ==
  Kafka (tansu broker)   BRAIN_TEST_KAFKA=$BRAIN_TEST_KAFKA
  PostgreSQL             BRAIN_TEST_POSTGRES=$BRAIN_TEST_POSTGRES
  Redis                  BRAIN_TEST_REDIS=$BRAIN_TEST_REDIS
  MQTT (Mosquitto)       BRAIN_TEST_MQTT=$BRAIN_TEST_MQTT
  CARGO_TARGET_DIR=$CARGO_TARGET_DIR
BANNER
"$here/engines.sh" status

# The end-to-end tests spawn $CARGO_TARGET_DIR/debug/brain: build bins first.
cargo build --workspace --bins

status=0
cargo nextest run --workspace --no-fail-fast --profile "${NEXTEST_PROFILE:-ci}" "$@" || status=$?
exit "$status"
