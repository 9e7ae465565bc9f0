#!/usr/bin/env bash
# Installs jippnas on this machine as systemd services (run as root from a clone of the repository).
#   deploy/install.sh [--binary PATH] [--role hub|aggregator|both] [--province CODE]
# It installs the binary, both units, /etc/jippnas/*.yaml from Config/ (never overwriting an edited one)
# and the credentials directory. The services run under a dynamic user (DynamicUser=yes), so no system
# account is created; their state lives in /var/lib/jippnas. Nothing is started: edit the config, put the
# broker password in /etc/jippnas/credentials/broker-password, then `systemctl enable --now jippnas-hub`.
# With --province, a hub's Ed25519 signing key is generated into /etc/jippnas/credentials/signing-key
# (unless one is there) and its public half left in /etc/jippnas/keys/ for the national operator's
# trust store. The aggregator's trust store is /etc/jippnas/trusted-keys.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
role=both
province=""
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary=$2; shift 2 ;;
    --role) role=$2; shift 2 ;;
    --province) province=$2; shift 2 ;;
    *) echo "usage: deploy/install.sh [--binary PATH] [--role hub|aggregator|both] [--province CODE]" >&2; exit 64 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

if [ -z "$binary" ]; then
    swift build -c release --product jippnas
    binary="$(swift build -c release --show-bin-path)/jippnas"
fi
install -D -m 0755 "$binary" /usr/local/bin/jippnas
install -d -m 0755 /etc/jippnas
install -d -m 0700 /etc/jippnas/credentials
roles=(hub aggregator)
[ "$role" = both ] || roles=("$role")
for r in "${roles[@]}"; do
    if [ ! -e "/etc/jippnas/$r.yaml" ]; then install -m 0644 "Config/$r.yaml" "/etc/jippnas/$r.yaml"; fi
    install -m 0644 "deploy/systemd/jippnas-$r.service" "/etc/systemd/system/jippnas-$r.service"
done
[ -e /etc/jippnas/credentials/broker-password ] || install -m 0600 /dev/null /etc/jippnas/credentials/broker-password
if [[ " ${roles[*]} " == *" aggregator "* ]]; then install -d -m 0755 /etc/jippnas/trusted-keys; fi
if [[ " ${roles[*]} " == *" hub "* ]] && [ -n "$province" ] && [ ! -e /etc/jippnas/credentials/signing-key ]; then
    install -d -m 0755 /etc/jippnas/keys
    /usr/local/bin/jippnas keys generate --hub "$province" --out /etc/jippnas/keys
    key=$(ls -t /etc/jippnas/keys/"$province"-*.key | head -1)
    install -m 0600 "$key" /etc/jippnas/credentials/signing-key && rm -f "$key"
    echo "signing key installed; send $(ls -t /etc/jippnas/keys/"$province"-*.pub | head -1) to the national operator"
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "installed /usr/local/bin/jippnas ($(/usr/local/bin/jippnas --version)) and units for: ${roles[*]}"
echo "next: edit /etc/jippnas/*.yaml, write the broker password to /etc/jippnas/credentials/broker-password"
echo "      (hub: and a signing key to /etc/jippnas/credentials/signing-key, see --province),"
echo "      then systemctl enable --now jippnas-${roles[0]}.service; journalctl -fu jippnas-${roles[0]}"
