#!/bin/sh
# The front's start: write the certificate and key where nginx reads them,
# render nginx.conf from the environment, then run nginx in the foreground.
#
# | variable                        | meaning                                         | default |
# |---------------------------------|-------------------------------------------------|---------|
# | TLS_CERTIFICATE                 | PEM certificate chain (an ECS secret)           | —       |
# | TLS_PRIVATE_KEY                 | PEM private key (an ECS secret)                 | —       |
# | TLS_CERTIFICATE_FILE / _KEY_FILE| or: files holding them (mounted)                | —       |
# | FRONT_UPSTREAM                  | gunicorn, host:port                             | 127.0.0.1:8000 |
# | FRONT_HTTPS_PORT                | HTTPS port inside the container                 | 8443    |
# | FRONT_HTTP_PORT                 | plain-HTTP port inside the container            | 8080    |
# | FRONT_PUBLIC_HTTPS_PORT         | HTTPS port clients see (the redirect's target)  | 443     |
# | FRONT_PLAIN_HTTP                | 1: the HTTP port serves the API too (unsafe)    | 0       |
# | FRONT_CLIENT_TIMEOUT            | seconds for headers, each body read, each write | 10      |
# | FRONT_KEEPALIVE_TIMEOUT         | seconds an idle connection is kept              | 15      |
# | FRONT_UPSTREAM_TIMEOUT          | seconds to wait for gunicorn's answer           | 35      |
# | FRONT_MAX_BODY                  | largest body read (nginx size: 2m, 512k)        | 2m      |
# | FRONT_CONNECTIONS_PER_ADDRESS   | requests at once per client address (429 above) | 512     |
# | FRONT_REQUESTS_PER_SECOND       | request rate per client address (429 above)     | 200     |
# | FRONT_REQUEST_BURST             | requests over that rate taken at once           | 400     |
# | FRONT_PUBLIC_HOSTS              | comma-separated names the front is reached by:  | —       |
# |                                 | the redirect's host (else the listener's address)|        |
# | TRUSTED_PROXIES                 | comma-separated addresses/networks of proxies   | —       |
# |                                 | (a load balancer) whose X-Forwarded-For names   |         |
# |                                 | the client (the service's rule)                 |         |
# | FRONT_FORWARDED_FOR             | set: X-Forwarded-For is the peer's address;     | set     |
# |                                 | append: the peer's address appended to the one  |         |
# |                                 | received (behind a load balancer that writes it)|         |
#
# Nothing here is ever printed with its value: the key is written to a file
# only root reads and removed from the environment before nginx starts.
set -eu

die() { echo "living-hta front: cannot start: $*" >&2; exit 2; }

number() {  # number NAME VALUE: VALUE must be a whole number >= 1
    case $2 in ''|*[!0-9]*|0) die "$1 must be a whole number >= 1, got '$2'";; esac
}

run_dir=/tmp/living-hta-front
tls_dir=$run_dir/tls
here=$(dirname "$0")
# nginx's workers (an unprivileged user) read and write under $run_dir;
# only root (nginx's master, at start) reads the key.
mkdir -p -m 755 "$run_dir"
mkdir -p -m 700 "$tls_dir"
umask 077

# pem NAME WHAT FILE: the variable NAME_FILE's file, else NAME's value, into FILE.
pem() {
    eval "from_file=\${${1}_FILE:-} value=\${${1}:-}"
    if [ -n "$from_file" ]; then
        cat "$from_file" >"$3" 2>/dev/null || die "${1}_FILE cannot be read"
    elif [ -n "$value" ]; then
        printf '%s\n' "$value" >"$3"
    else
        die "no $2: set $1 (PEM) or ${1}_FILE"
    fi
}
pem TLS_CERTIFICATE certificate "$tls_dir/certificate.pem"
pem TLS_PRIVATE_KEY "private key" "$tls_dir/private_key.pem"
unset from_file value
unset TLS_CERTIFICATE TLS_PRIVATE_KEY TLS_CERTIFICATE_FILE TLS_PRIVATE_KEY_FILE
grep -q -- '-----BEGIN CERTIFICATE-----' "$tls_dir/certificate.pem" \
    || die "the certificate is not PEM (-----BEGIN CERTIFICATE-----)"
grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$tls_dir/private_key.pem" \
    || die "the private key is not PEM (-----BEGIN ... PRIVATE KEY-----)"

upstream=${FRONT_UPSTREAM:-127.0.0.1:8000}
case $upstream in *[!A-Za-z0-9.:_\[\]-]*|'') die "FRONT_UPSTREAM must be host:port, got '$upstream'";; esac
https_port=${FRONT_HTTPS_PORT:-8443}
http_port=${FRONT_HTTP_PORT:-8080}
public_port=${FRONT_PUBLIC_HTTPS_PORT:-443}
client_timeout=${FRONT_CLIENT_TIMEOUT:-10}
keepalive_timeout=${FRONT_KEEPALIVE_TIMEOUT:-15}
upstream_timeout=${FRONT_UPSTREAM_TIMEOUT:-35}
per_address=${FRONT_CONNECTIONS_PER_ADDRESS:-512}
requests_per_second=${FRONT_REQUESTS_PER_SECOND:-200}
request_burst=${FRONT_REQUEST_BURST:-400}
for pair in FRONT_HTTPS_PORT="$https_port" FRONT_HTTP_PORT="$http_port" \
        FRONT_PUBLIC_HTTPS_PORT="$public_port" FRONT_CLIENT_TIMEOUT="$client_timeout" \
        FRONT_KEEPALIVE_TIMEOUT="$keepalive_timeout" FRONT_UPSTREAM_TIMEOUT="$upstream_timeout" \
        FRONT_CONNECTIONS_PER_ADDRESS="$per_address" FRONT_REQUESTS_PER_SECOND="$requests_per_second" \
        FRONT_REQUEST_BURST="$request_burst"; do
    number "${pair%%=*}" "${pair#*=}"
done

# The proxies whose X-Forwarded-For is believed (nginx's realip module, read
# right to left as the service reads it): none, the front is the edge.
real_ip='    # TRUSTED_PROXIES is empty: the peer is the client.'
if [ -n "${TRUSTED_PROXIES:-}" ]; then
    real_ip='   '
    for proxy in $(printf '%s' "$TRUSTED_PROXIES" | tr ',' ' '); do
        case $proxy in
            *[!0-9A-Fa-f.:/]*|'') die "TRUSTED_PROXIES must be comma-separated addresses or networks (CIDR), got '$proxy'" ;;
        esac
        real_ip="$real_ip set_real_ip_from $proxy;"
    done
    real_ip="$real_ip real_ip_header X-Forwarded-For; real_ip_recursive on;"
fi

# The redirect's host: one of the names the front is reached by, never
# whatever Host a client sent.
redirect_host_map='map $host $redirect_host { default $server_addr; }'
if [ -n "${FRONT_PUBLIC_HOSTS:-}" ]; then
    redirect_host_map=
    for name in $(printf '%s' "$FRONT_PUBLIC_HOSTS" | tr ',' ' '); do
        case $name in
            *[!A-Za-z0-9.-]*|''|.*|-*) die "FRONT_PUBLIC_HOSTS must be comma-separated host names or IPv4 addresses, got '$name'" ;;
        esac
        [ -n "$redirect_host_map" ] || redirect_host_map="map \$host \$redirect_host { hostnames; default $name;"
        redirect_host_map="$redirect_host_map $name $name;"
    done
    redirect_host_map="$redirect_host_map }"
fi
# Behind a load balancer the header it wrote names the client: the front
# appends the load balancer's address to it, and the service believes it
# right to left through its TRUSTED_PROXIES only (a client's own entries,
# written before, count for nothing).  Alone, the front replaces it.
case ${FRONT_FORWARDED_FOR:-set} in
    set) forwarded_for='$remote_addr' ;;
    append) forwarded_for='$forwarded_for_appended' ;;
    *) die "FRONT_FORWARDED_FOR must be set or append, got '${FRONT_FORWARDED_FOR}'" ;;
esac
max_body=${FRONT_MAX_BODY:-2m}
case $max_body in *[!0-9kKmM]*|''|[!0-9]*) die "FRONT_MAX_BODY must be a size like 2m or 512k, got '$max_body'";; esac

# The redirect names the HTTPS port unless it is 443.  308 keeps the method
# and body (a POST stays a POST).
port_suffix=":$public_port"
[ "$public_port" = 443 ] && port_suffix=
if [ "${FRONT_PLAIN_HTTP:-0}" = 1 ]; then
    echo "living-hta front: WARNING: FRONT_PLAIN_HTTP=1: port $http_port serves the API in clear text" >&2
    http_locations="include $run_dir/api.conf;"
    hsts=
else
    http_locations="location / { return 308 https://\$redirect_host$port_suffix\$request_uri; }"
    hsts='max-age=31536000'
fi

# The workers' user: `nginx` in the official image, `www-data` in Debian's.
worker_user=nginx
id -u nginx >/dev/null 2>&1 || worker_user=www-data

umask 022
for part in errors.conf api.conf assets.conf headers.conf; do
    cp "$here/$part" "$run_dir/$part"
done
sed -e "s|@FORWARDED_FOR@|$forwarded_for|g" "$here/proxy_headers.conf.template" >"$run_dir/proxy_headers.conf"
sed -e "s|@USER@|$worker_user|g" \
    -e "s|@UPSTREAM@|$upstream|g" \
    -e "s|@HTTPS_PORT@|$https_port|g" \
    -e "s|@HTTP_PORT@|$http_port|g" \
    -e "s|@CLIENT_TIMEOUT@|$client_timeout|g" \
    -e "s|@KEEPALIVE_TIMEOUT@|$keepalive_timeout|g" \
    -e "s|@UPSTREAM_TIMEOUT@|$upstream_timeout|g" \
    -e "s|@MAX_BODY@|$max_body|g" \
    -e "s|@CONNECTIONS_PER_ADDRESS@|$per_address|g" \
    -e "s|@REQUESTS_PER_SECOND@|$requests_per_second|g" \
    -e "s|@REQUEST_BURST@|$request_burst|g" \
    -e "s|@REAL_IP@|$real_ip|g" \
    -e "s|@REDIRECT_HOST_MAP@|$redirect_host_map|g" \
    -e "s|@HTTP_LOCATIONS@|$http_locations|g" \
    -e "s|@HSTS@|$hsts|g" \
    "$here/nginx.conf.template" >"$run_dir/nginx.conf"

# SIGQUIT (the image's STOPSIGNAL) is nginx's graceful stop: it stops
# accepting, finishes the requests in flight, then exits.
exec nginx -c "$run_dir/nginx.conf" -g 'daemon off;'
