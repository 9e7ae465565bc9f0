# A cached minimal Debian 12 root made with debootstrap, for scripts/systemd-check (a booted machine) and
# scripts/fresh-check (a fresh machine the README's commands run on). Source it; it defines functions only.

DEBIAN_ROOT_MIRROR=${JIPPNAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Makes (once) and prints the path of a Debian 12 root holding minbase plus the comma-separated packages
# $2, cached under the directory $1 and keyed by the package list, the mirror and this function's own
# set-up steps, so that changing any of them makes a new root. $3 is the machine's hostname.
debian_root_template() {
    local cache=$1 includes=$2 hostname=$3 key template lock
    key=$(printf '%s %s %s %s' "$includes" "$DEBIAN_ROOT_MIRROR" "$hostname" "$(declare -f debian_root_template)" \
        | sha256sum | cut -c1-12)
    template="$cache/bookworm-$key"
    mkdir -p "$cache"
    # One maker at a time; a second run waits and then uses what the first made.
    exec {lock}> "$cache/.lock"
    flock "$lock"
    if [ ! -d "$template" ]; then
        echo "==> making a Debian 12 root in $template (debootstrap; cached for later runs)" >&2
        rm -rf "$template.partial"
        debootstrap --variant=minbase --include="$includes" bookworm "$template.partial" "$DEBIAN_ROOT_MIRROR" \
            > "$cache/debootstrap.log" 2>&1 \
            || { tail -20 "$cache/debootstrap.log" >&2; exec {lock}>&-; return 1; }
        rm -f "$template.partial"/var/cache/apt/archives/*.deb
        # An empty machine-id makes the first boot create one, as on a freshly installed system.
        : > "$template.partial/etc/machine-id"
        # What Debian's installer writes; debootstrap leaves no hosts file, and without one nothing
        # resolves "localhost".
        echo "$hostname" > "$template.partial/etc/hostname"
        printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$hostname" \
            > "$template.partial/etc/hosts"
        mv "$template.partial" "$template" || { exec {lock}>&-; return 1; }
        # Older roots are of no more use (matched by name: a path with a trailing slash would match none).
        find "$cache" -maxdepth 1 -name 'bookworm-*' ! -name "$(basename "$template")" -exec rm -rf {} +
    fi
    exec {lock}>&-
    echo "$template"
}
