# Shared by the scripts (demo, test, broker, package, systemd-check ...). Source it; it defines functions only.

jippnas_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# Every Python program of ours runs on Debian's own Python, the one its python3-* packages are for, not
# whichever python3 is first on the PATH (a pyenv or a venv would lack python3-selenium).
JIPPNAS_PYTHON=/usr/bin/python3

# Installs the named Debian packages that are missing (as root, or through sudo where it exists).
jippnas_install_debs() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "installing ${missing[*]} needs root: run this as root, or install them" >&2; return 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian packages jippnas builds, tests and demonstrates with (python3 runs the fault proxy; Hunspell
# with its Indonesian dictionary and Snowball's libstemmer give search its stems).
jippnas_install_packages() {
    jippnas_install_debs rabbitmq-server librabbitmq-dev libsqlite3-dev sqlite3 pkg-config openssl python3 curl \
        libhunspell-dev hunspell-id libstemmer-dev
}

# Headless Chromium and Selenium (Debian's python3-selenium, for $JIPPNAS_PYTHON), for the web page's
# browser test.
jippnas_install_browser() {
    jippnas_install_debs chromium chromium-driver python3-selenium
}

# Debian's packaging tools, for scripts/package and scripts/systemd-check.
jippnas_install_packages_for_packaging() {
    jippnas_install_debs dpkg-dev binutils help2man lintian debootstrap systemd-container procps python3
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
jippnas_free_port() {
    local port
    # Below Linux's ephemeral range (32768-60999): a port from it can be taken by any outgoing connection
    # between this check and the broker's bind (likely why a test broker's TLS listener on 36862 was unreachable once).
    for _ in $(seq 1 200); do
        port=$(( 20000 + RANDOM % 12000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    done
    echo "no free port found" >&2
    return 1
}
