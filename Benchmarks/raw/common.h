/* Shared by the raw baselines: connect, log in, open channel 1, and die loudly on any error.
 * These programs use rabbitmq-c and SQLite directly and nothing of jippnas, so their rates are the
 * physical limits that scripts/bench compares the daemons with. */
#ifndef RAW_COMMON_H
#define RAW_COMMON_H
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die_reply(amqp_rpc_reply_t r, const char *what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf(stderr, "%s: %s\n", what, amqp_error_string2(r.library_error));
    else
        fprintf(stderr, "%s: broker closed (reply type %d)\n", what, r.reply_type);
    exit(1);
}

static void die_status(int status, const char *what) {
    if (status >= 0) return;
    fprintf(stderr, "%s: %s\n", what, amqp_error_string2(status));
    exit(1);
}

/* argv: host port vhost user password */
static amqp_connection_state_t raw_connect(char **argv) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (!socket) { fprintf(stderr, "cannot create socket\n"); exit(1); }
    die_status(amqp_socket_open(socket, argv[0], atoi(argv[1])), "connect");
    die_reply(amqp_login(conn, argv[2], 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, argv[3], argv[4]), "login");
    amqp_channel_open(conn, 1);
    die_reply(amqp_get_rpc_reply(conn), "channel.open");
    return conn;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
#endif
