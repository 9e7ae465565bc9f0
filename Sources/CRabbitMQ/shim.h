#ifndef JIPPNAS_CRABBITMQ_SHIM_H
#define JIPPNAS_CRABBITMQ_SHIM_H

// Debian 12 (rabbitmq-c 0.11) installs <amqp.h>; 0.12+ installs <rabbitmq-c/amqp.h>.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif

#include <openssl/err.h>

// rabbitmq-c reports every TLS failure after the handshake as AMQP_STATUS_SSL_ERROR and leaves OpenSSL's
// reason (for example "tlsv13 alert certificate required", the broker's answer to a missing client
// certificate) on this thread's error queue. This copies the latest reason into `buffer` ("" if none).
static inline void jippnas_tls_last_reason(char *buffer, size_t length) {
    unsigned long code = ERR_peek_last_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;
    if (length == 0) return;
    buffer[0] = 0;
    if (reason) {
        size_t i = 0;
        for (; reason[i] && i + 1 < length; i++) buffer[i] = reason[i];
        buffer[i] = 0;
    }
}

// Empties this thread's OpenSSL error queue before a connection, so that its reasons are this one's.
static inline void jippnas_tls_clear_errors(void) { ERR_clear_error(); }

// amqp_login is variadic, which Swift cannot call; this fixes the PLAIN mechanism's two arguments.
static inline amqp_rpc_reply_t jippnas_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                        int channel_max, int frame_max, int heartbeat,
                                                        const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

// Method ids are cast macros, which Swift does not import; these constants carry them across.
static const amqp_method_number_t jippnas_method_basic_ack = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t jippnas_method_basic_nack = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t jippnas_method_basic_return = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t jippnas_method_basic_deliver = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t jippnas_method_basic_get_ok = AMQP_BASIC_GET_OK_METHOD;
static const amqp_method_number_t jippnas_method_basic_get_empty = AMQP_BASIC_GET_EMPTY_METHOD;
static const amqp_method_number_t jippnas_method_channel_close = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t jippnas_method_channel_close_ok = AMQP_CHANNEL_CLOSE_OK_METHOD;
static const amqp_method_number_t jippnas_method_connection_close = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t jippnas_method_connection_close_ok = AMQP_CONNECTION_CLOSE_OK_METHOD;
static const amqp_flags_t jippnas_flag_content_type = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t jippnas_flag_delivery_mode = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t jippnas_flag_message_id = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t jippnas_flag_timestamp = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t jippnas_flag_type = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t jippnas_flag_app_id = AMQP_BASIC_APP_ID_FLAG;
static const amqp_flags_t jippnas_flag_user_id = AMQP_BASIC_USER_ID_FLAG;
static const amqp_flags_t jippnas_flag_headers = AMQP_BASIC_HEADERS_FLAG;

#endif
