/* (b) Consumes COUNT messages from QUEUE with prefetch 1000, acknowledging with `multiple` every 250;
 * prints the count and seconds. usage: raw_consume host port vhost user password queue count */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 8) { fprintf(stderr, "usage: raw_consume host port vhost user password queue count\n"); return 2; }
    long count = atol(argv[7]);
    amqp_connection_state_t conn = raw_connect(argv + 1);
    amqp_basic_qos(conn, 1, 0, 1000, 0);
    die_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[6]), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die_reply(amqp_get_rpc_reply(conn), "basic.consume");
    long received = 0;
    double start = 0;
    while (received < count) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        die_reply(amqp_consume_message(conn, &envelope, NULL, 0), "consume");
        if (received == 0) start = now_seconds();
        received++;
        if (received % 250 == 0 || received == count)
            die_status(amqp_basic_ack(conn, 1, envelope.delivery_tag, 1), "ack");
        amqp_destroy_envelope(&envelope);
    }
    printf("%ld %.4f\n", count, now_seconds() - start);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}
