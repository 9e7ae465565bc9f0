/* (a) Publishes COUNT persistent messages, the bodies read from an NDJSON file in turn, to the
 * jippnas.innovation exchange with publisher confirms and a window of WINDOW; prints the count and seconds.
 * usage: raw_publish host port vhost user password bodies.ndjson count window routing-key */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 10) { fprintf(stderr, "usage: raw_publish host port vhost user password bodies count window key\n"); return 2; }
    FILE *f = fopen(argv[6], "r");
    if (!f) { perror(argv[6]); return 1; }
    size_t cap = 1024, n = 0;
    char **bodies = malloc(cap * sizeof *bodies);
    char *line = NULL; size_t len = 0; ssize_t got;
    while ((got = getline(&line, &len, f)) > 0) {
        if (line[got - 1] == '\n') line[--got] = 0;
        if (n == cap) bodies = realloc(bodies, (cap *= 2) * sizeof *bodies);
        bodies[n++] = strdup(line);
    }
    fclose(f);
    if (n == 0) { fprintf(stderr, "no bodies\n"); return 1; }
    long count = atol(argv[7]), window = atol(argv[8]);
    amqp_connection_state_t conn = raw_connect(argv + 1);
    amqp_confirm_select(conn, 1);
    die_reply(amqp_get_rpc_reply(conn), "confirm.select");
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.delivery_mode = 2;
    props.content_type = amqp_cstring_bytes("application/json");
    char id[64];
    long sent = 0, confirmed = 0;
    double start = now_seconds();
    while (confirmed < count) {
        while (sent < count && sent - confirmed < window) {
            snprintf(id, sizeof id, "raw-%ld", sent);
            props.message_id = amqp_cstring_bytes(id);
            die_status(amqp_basic_publish(conn, 1, amqp_cstring_bytes("jippnas.innovation"), amqp_cstring_bytes(argv[9]),
                                          0, 0, &props, amqp_cstring_bytes(bodies[sent % n])), "publish");
            sent++;
        }
        amqp_frame_t frame;
        die_status(amqp_simple_wait_frame(conn, &frame), "wait for confirm");
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            confirmed = ack->multiple ? (long)ack->delivery_tag : confirmed + 1;
        } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            fprintf(stderr, "nacked\n");
            return 1;
        }
    }
    double elapsed = now_seconds() - start;
    printf("%ld %.4f\n", count, elapsed);
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}
