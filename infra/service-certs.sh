#!/usr/bin/env bash
# A private CA and one certificate naming every component Service of a release, for the chart's
# `mtls.existingSecret` where cert-manager is not installed (dev clusters, Tilt, air-gapped
# trials). In production prefer cert-manager (`mtls.certManager`) or the data center's PKI:
# they issue one certificate per component and renew it, which the brain picks up by itself.
#
#   infra/service-certs.sh <out-dir> <fullname> <namespace>
#   kubectl -n <namespace> create secret generic <name> \
#     --from-file=<out-dir>/tls.crt --from-file=<out-dir>/tls.key --from-file=<out-dir>/ca.crt
#
# <fullname> is the chart's full name (`<release>-industry-brain`). The certificate names the
# monolith's Service and every service's, short and namespaced, plus localhost and 127.0.0.1
# for port-forwards. Existing files are kept while the certificate has 30 days left, so the CA
# stays the same across runs. Needs openssl.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 <out-dir> <fullname> <namespace>" >&2
	exit 2
fi
out=$1 fullname=$2 namespace=$3
mkdir -p "$out"
cd "$out"

if [ -f tls.crt ] && [ -f tls.key ] && [ -f ca.crt ] && openssl x509 -checkend $((30 * 86400)) -noout -in tls.crt >/dev/null; then
	echo "service-certs: $out/tls.crt is valid for 30 days or more; kept" >&2
	exit 0
fi

names="DNS:localhost,IP:127.0.0.1"
for component in "" -ingestion -governance -compute-scheduler -model-gateway -service-opening -portal-api -evaluation -trust; do
	service="$fullname$component"
	names="$names,DNS:$service,DNS:$service.$namespace.svc,DNS:$service.$namespace.svc.cluster.local"
done

umask 077
if [ ! -f ca.key ] || [ ! -f ca.crt ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
		-subj "/CN=$fullname services CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout ca.key -out ca.crt 2>/dev/null
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$fullname" \
	-keyout tls.key -out tls.csr 2>/dev/null
printf '%s\n' "subjectAltName=$names" "extendedKeyUsage=serverAuth,clientAuth" \
	"keyUsage=critical,digitalSignature" "basicConstraints=CA:FALSE" >tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
	-extfile tls.ext -out tls.crt 2>/dev/null
rm -f tls.csr tls.ext ca.srl
echo "service-certs: $out/{tls.crt,tls.key,ca.crt} for $fullname in $namespace (CA key: $out/ca.key)" >&2
