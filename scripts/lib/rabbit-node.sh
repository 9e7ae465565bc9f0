# Starting and stopping a RabbitMQ node that lives in a directory of its own (scripts/broker, scripts/cluster).
# Source it; it defines functions only. Each node has its own mnesia, log, config and enabled-plugins files
# and a private Erlang cookie, so it never collides with (or joins) another broker on the machine.

# rabbit_node_launch DIR NODE PORT DIST_PORT COOKIE: starts the node in the background. DIR holds
# rabbitmq.conf and enabled_plugins; the node keeps its data in DIR/mnesia, its logs in DIR/log and its
# console output in DIR/server.out.
rabbit_node_launch() {
    local dir=$1 node=$2 port=$3 dist=$4 cookie=$5
    mkdir -p "$dir/mnesia" "$dir/log"
    # The rabbitmq-server wrapper drops to the rabbitmq user, which must reach and own the directory.
    chmod 755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R rabbitmq:rabbitmq "$dir/mnesia" "$dir/log"
        if ! su rabbitmq -s /bin/sh -c "test -w '$dir/mnesia'"; then
            echo "the rabbitmq user cannot write $dir/mnesia: make every parent directory traversable (chmod 755)" >&2
            return 1
        fi
    fi
    (
        export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_NODENAME="$node" \
            RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist" RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
            RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-setcookie $cookie" RABBITMQ_PID_FILE="$dir/mnesia/broker.pid"
        # A node of ours is nobody's service: started from a unit or a container that set NOTIFY_SOCKET, it
        # would try to notify that manager and, finding no datagram socket it can read, not start at all.
        unset NOTIFY_SOCKET
        if [ "$(id -u)" -eq 0 ]; then
            # Debian's wrapper drops to the rabbitmq user through su, whose PAM session sets the open-files
            # limit back to 1024. RabbitMQ sizes its file handle cache from that limit (about 930 handles);
            # once the queues and message stores of a few dozen test vhosts hold them all, every new
            # connection waits for a handle for good (file_handle_cache:obtain), which looked like a hang
            # of 3.10.8. So drop privileges without PAM, keeping a raised limit.
            local files
            files=$(ulimit -Hn)
            if [ "$files" = unlimited ] || [ "$files" -gt 65536 ]; then files=65536; fi
            ulimit -n "$files"
            cd /var/lib/rabbitmq
            HOME=/var/lib/rabbitmq setsid setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
                /usr/lib/rabbitmq/bin/rabbitmq-server > "$dir/server.out" 2>&1 < /dev/null &
        else
            setsid rabbitmq-server > "$dir/server.out" 2>&1 < /dev/null &
        fi
    )
}

# rabbit_node_ctl NODE COOKIE ARGS...: rabbitmqctl against that node.
rabbit_node_ctl() {
    local node=$1 cookie=$2
    shift 2
    rabbitmqctl -q -n "$node" --erlang-cookie "$cookie" "$@"
}

# rabbit_node_await DIR NODE COOKIE: waits until the node has booted; prints its last output if it did not.
rabbit_node_await() {
    local dir=$1 node=$2 cookie=$3 short=${2%@*}
    for _ in $(seq 1 120); do
        epmd -names 2>/dev/null | grep -q "name $short " && break
        sleep 0.25
    done
    if ! rabbit_node_ctl "$node" "$cookie" await_startup --timeout 90 >/dev/null 2>&1; then
        echo "node $node failed to start; see $dir/server.out and $dir/log" >&2
        tail -20 "$dir/server.out" >&2 || true
        return 1
    fi
}

# rabbit_node_stop DIR NODE COOKIE [kill]: stops the node (and only it), or with "kill" sends SIGKILL to
# its Erlang VM at once, as a power cut would.
rabbit_node_stop() {
    local dir=$1 node=$2 cookie=$3 how=${4:-stop}
    local pidfile="$dir/mnesia/broker.pid" pid=""
    [ -f "$pidfile" ] && pid=$(cat "$pidfile")
    # A node killed earlier leaves its pid file behind, and the number may belong to another process now.
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != beam.smp ]; then pid=""; fi
    if [ "$how" = kill ]; then
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        return 0
    fi
    rabbit_node_ctl "$node" "$cookie" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
    fi
}
