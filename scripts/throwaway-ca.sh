#!/usr/bin/env bash
# A throwaway CA and a server certificate it signed (ECDSA P-256, openssl),
# for servers run on this machine: the demo's load balancer (scripts/demo.py
# imports the pair into ACM and writes ca.pem for clients) and the HTTPS
# servers tests start (tests/support/tls.py).
#   scripts/throwaway-ca.sh FOLDER [NAME...]
# NAME: subjectAltName entries, default IP:127.0.0.1 DNS:localhost.  Writes
# FOLDER/ca.pem, FOLDER/certificate.pem and FOLDER/key.pem (0600); the CA's
# own key is deleted once it has signed, so nothing else can ever be signed
# by it.  CERT_DAYS: the certificate's lifetime (default 2; the CA's is one
# day longer).
set -euo pipefail
folder=${1:?usage: $0 FOLDER [NAME...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(IP:127.0.0.1 DNS:localhost)
days=${CERT_DAYS:-2}
mkdir -p "$folder"
work=$(mktemp -d "$folder/.ca.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 077
quietly() { local said; said=$("$@" 2>&1) || { echo "$said" >&2; exit 1; }; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
quietly openssl req -x509 "${ec[@]}" -keyout "$work/ca_key.pem" -out "$work/ca.pem" -days $((days + 1)) \
    -subj "/CN=living-hta throwaway CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign"
quietly openssl req "${ec[@]}" -keyout "$work/key.pem" -out "$work/server.csr" -subj "/CN=${names[0]#*:}"
(IFS=,; printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${names[*]}") >"$work/server.ext"
quietly openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca_key.pem" \
    -CAcreateserial -out "$work/certificate.pem" -days "$days" -extfile "$work/server.ext"
chmod 644 "$work/ca.pem" "$work/certificate.pem"
mv "$work/ca.pem" "$work/certificate.pem" "$work/key.pem" "$folder/"
