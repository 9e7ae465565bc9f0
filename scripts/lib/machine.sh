# A Debian 12 machine booted with systemd-nspawn, for scripts/systemd-check. Source it; it defines
# functions only. State: MACHINE_DIR, MACHINE_NSPAWN (pid of systemd-nspawn), MACHINE_LEADER (pid of the
# machine's systemd, PID 1 inside).

MACHINE_CACHE=${JIPPNAS_SYSTEMD_CACHE:-/var/cache/jippnas/systemd-check}
# What the machine runs besides the package: systemd itself, the broker, and tools the checks use.
MACHINE_BASE_PACKAGES="systemd systemd-sysv dbus rabbitmq-server ca-certificates procps"

# The package's Depends: as a comma list of package names, so apt installs the .deb with no network.
machine_package_depends() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/(.*)//' -e 's/|.*//' -e 's/[[:space:]]//g' \
        | grep -v '^$' | sort -u | paste -sd, -
}

# Copies a cached Debian 12 root to $1 (scripts/lib/debian-root.sh). The cache is keyed by the package
# list, so a new dependency of the .deb $2 makes a new root.
machine_prepare() {
    local target=$1 deb=$2 includes template
    includes="$(echo "$MACHINE_BASE_PACKAGES" | tr ' ' ','),$(machine_package_depends "$deb")"
    template=$(debian_root_template "$MACHINE_CACHE" "$includes" jippnas-check)
    cp -a --reflink=auto "$template" "$target"
}

# Boots the root $1 (console to $2) and waits until its systemd reports the system up.
machine_boot() {
    MACHINE_DIR=$1
    systemd-nspawn --boot --register=no --keep-unit --private-network --machine=jippnas-check \
        -D "$MACHINE_DIR" > "$2" 2>&1 < /dev/null &
    MACHINE_NSPAWN=$!
    MACHINE_LEADER=""
    local deadline=$((SECONDS + 60))
    while [ -z "$MACHINE_LEADER" ] && [ $SECONDS -lt $deadline ] && kill -0 "$MACHINE_NSPAWN" 2>/dev/null; do
        MACHINE_LEADER=$(pgrep -P "$MACHINE_NSPAWN" -x systemd || true)
        sleep 0.2
    done
    [ -n "$MACHINE_LEADER" ] || { echo "systemd-check: the machine did not boot" >&2; tail -20 "$2" >&2; return 1; }
    export MACHINE_LEADER
    # is-system-running prints nothing until systemd's socket is up, then waits for the boot to end and
    # prints the outcome ("degraded" exits non-zero too).
    local state=""
    deadline=$((SECONDS + 120))
    while [ -z "$state" ] && [ $SECONDS -lt $deadline ] && kill -0 "$MACHINE_NSPAWN" 2>/dev/null; do
        state=$(in_machine timeout 120 systemctl is-system-running --wait 2>/dev/null || true)
        [ -n "$state" ] || sleep 1
    done
    echo "==> machine booted: systemd $(in_machine systemctl --version | head -1 | cut -d' ' -f2), system ${state:-unknown}" >&2
    [ "$state" != degraded ] || in_machine systemctl --failed --no-legend --no-pager >&2 || true
}

# Runs a command inside the machine, as root, with a clean environment.
in_machine() {
    nsenter -t "$MACHINE_LEADER" -a -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        HOME=/root "$@"
}
export -f in_machine

# Powers the machine off (or kills it when it does not go within 30 s).
machine_stop() {
    [ -n "${MACHINE_NSPAWN:-}" ] || return 0
    if kill -0 "$MACHINE_NSPAWN" 2>/dev/null; then
        in_machine systemctl poweroff --no-block >/dev/null 2>&1 || true
        local deadline=$((SECONDS + 30))
        while kill -0 "$MACHINE_NSPAWN" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
        kill -KILL "$MACHINE_NSPAWN" 2>/dev/null || true
    fi
    wait "$MACHINE_NSPAWN" 2>/dev/null || true
    MACHINE_NSPAWN=""
}
