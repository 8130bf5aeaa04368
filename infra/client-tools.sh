#!/usr/bin/env bash
# The official client libraries the end-to-end tests drive the brain with, unchanged, in a
# venv of their own under ~/.cache/industry-brain/tools (idempotent). Prints the python to use:
#
#   python=$(infra/client-tools.sh)
#
#   openai   PyPI, the OpenAI Python library (the gateway must work with it, streaming included)
set -euo pipefail

OPENAI_VERSION=1.99.9
TOOLS_DIR=${BRAIN_TOOLS_DIR:-$HOME/.cache/industry-brain/tools}
VENV=$TOOLS_DIR/clients-venv
STAMP=$VENV/.installed

die() {
	echo "client-tools: $*" >&2
	exit 1
}

want="openai==$OPENAI_VERSION"
if [[ -x $VENV/bin/python && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
	echo "$VENV/bin/python"
	exit 0
fi
command -v python3 >/dev/null || die "python3 is needed for the client libraries"
mkdir -p "$TOOLS_DIR"
if [[ ! -x $VENV/bin/python ]]; then
	python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
fi
echo "client-tools: pip install $want" >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$want" >&2 || die "pip install $want failed"
"$VENV/bin/python" -c "import openai" || die "openai does not import"
echo "$want" >"$STAMP"
echo "$VENV/bin/python"
