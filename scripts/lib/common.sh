# Shared by the scripts (demo, test, broker, package, systemd-check ...). Source it; it defines functions only.

jippnas_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# Installs the named Debian packages that are missing (as root, or through sudo).
jippnas_install_debs() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian packages jippnas builds and tests with.
jippnas_install_packages() {
    jippnas_install_debs rabbitmq-server librabbitmq-dev libsqlite3-dev sqlite3 pkg-config openssl
}

# Headless Chromium and Selenium, for the web page's browser test.
jippnas_install_browser() {
    jippnas_install_debs chromium chromium-driver
    python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check selenium >&2
}

# Debian's packaging tools, for scripts/package and scripts/systemd-check.
jippnas_install_packages_for_packaging() {
    jippnas_install_debs dpkg-dev binutils help2man lintian debootstrap systemd-container procps python3
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
jippnas_free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    done
    echo "no free port found" >&2
    return 1
}
