import CRabbitMQ
import Foundation
import JippnasCore

/// Message properties as read from a delivery.
public struct AMQPDelivery: Sendable, Equatable {
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var messageID: String?
    public var contentType: String?
    public var type: String?
    public var userID: String?
    public var appID: String?
    public var timestamp: UInt64?
    /// String-valued headers named `x-jippnas-*` (signature and key id); other headers are not read.
    public var headers: [String: String] = [:]
    /// Where a stream delivered this message from (the `x-stream-offset` header); nil from a queue.
    public var streamOffset: Int64?
    public var body: Data
}

/// What the broker said about earlier publishes on a confirm-mode channel.
public enum ConfirmEvent: Sendable, Equatable {
    case ack(tag: UInt64, multiple: Bool)
    case nack(tag: UInt64, multiple: Bool)
    /// An unroutable `mandatory` message came back (312 NO_ROUTE); its ack follows.
    case returned(messageID: String?, replyCode: UInt16, routingKey: String)
    /// A message for a consumer on this channel (a hub's control queue).
    case delivery(AMQPDelivery)
}

/// Properties of one publish. Delivery mode is always persistent.
public struct PublishProperties: Sendable {
    public var messageID: String
    /// `application/json` unless a test sends something else; nil leaves the property out.
    public var contentType: String? = EnvelopeCodec.contentType
    public var type: String
    public var appID: String
    public var timestamp: UInt64
    /// The AMQP user-id: RabbitMQ refuses a publish whose user-id is not the connection's login user.
    public var userID: String?
    /// String headers (the signature and its key id).
    public var headers: [(name: String, value: String)]

    public init(messageID: String, type: String, appID: String, timestamp: UInt64, userID: String? = nil,
                headers: [(name: String, value: String)] = [])
    {
        self.messageID = messageID
        self.type = type
        self.appID = appID
        self.timestamp = timestamp
        self.userID = userID
        self.headers = headers
    }
}

/// One rabbitmq-c connection with one channel.
///
/// rabbitmq-c is not thread-safe per connection and services heartbeats only inside its own calls, so
/// an instance belongs to exactly one thread for its whole life (the hub relay's or the aggregator's
/// AMQP thread) and is never shared; it is deliberately not `Sendable`. After any error with
/// ``AMQPError/connectionLost`` the instance is closed and a new one is made: rabbitmq-c cannot reuse a
/// connection the broker closed.
public final class AMQPConnection {
    public let url: BrokerURL
    let state: amqp_connection_state_t
    let channel: amqp_channel_t = 1
    private var isOpen = false
    /// Publishes of ``moveMessages(from:to:batch:)``: confirm tags count from 1 on the channel.
    var movePublishes: UInt64 = 0
    private let brokerName: String

    /// The heartbeat interval the broker agreed to, in seconds (0 = off).
    public private(set) var heartbeat: Int32 = 0

    /// Connects, logs in and opens channel 1.
    ///
    /// - Parameters:
    ///   - heartbeat: requested heartbeat in seconds; the broker may lower it.
    ///   - timeout: limit for the TCP connect, the handshake and every later RPC.
    public init(url: BrokerURL, tls: BrokerTLS = BrokerTLS(), heartbeat: Int = 30, timeout: Duration = .seconds(10),
                connectionName: String = "jippnas") throws(AMQPError)
    {
        self.url = url
        self.brokerName = url.description
        guard let state = amqp_new_connection() else {
            throw AMQPError(operation: "connect", kind: .unexpected("out of memory"), broker: url.description)
        }
        self.state = state
        let socket: OpaquePointer
        do {
            socket = try url.tls ? Self.tlsSocket(state, tls, broker: url.description) : Self.tcpSocket(state, broker: url.description)
        } catch {
            amqp_destroy_connection(state)
            throw error
        }
        var tv = timeval(duration: timeout)
        if url.tls { jippnas_tls_clear_errors() }
        let rc = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &tv)
        if rc != AMQP_STATUS_OK.rawValue {
            let hint = url.tls ? Self.tlsHint(rc, tls) : ""
            amqp_destroy_connection(state)
            throw AMQPError(operation: url.tls ? "TLS connect" : "connect",
                            kind: .library(code: rc, message: Self.statusText(rc) + hint), broker: url.description)
        }
        _ = amqp_set_handshake_timeout(state, &tv)
        _ = amqp_set_rpc_timeout(state, &tv)
        let reply = jippnas_amqp_login_plain(state, url.vhost, 0, 131_072, Int32(heartbeat), url.user, url.password)
        do {
            try check(reply, "login")
        } catch {
            // Read before the connection is freed: OpenSSL's reason is all that says why TLS failed here.
            let hint = url.tls ? Self.tlsHint(AMQP_STATUS_SSL_ERROR.rawValue, tls, afterHandshake: true) : ""
            amqp_destroy_connection(state)
            switch error.kind {
            case .connectionClosed(let code, let text) where code == 403 || code == 530:
                throw AMQPError(operation: "login", kind: .authentication("\(code) \(text)"), broker: url.description)
            case .library(let code, let message) where code == AMQP_STATUS_SSL_ERROR.rawValue:
                throw AMQPError(operation: "login", kind: .library(code: code, message: message + hint), broker: url.description)
            default:
                throw error
            }
        }
        self.heartbeat = amqp_get_heartbeat(state)
        isOpen = true
        _ = amqp_channel_open(state, channel)
        do {
            try check(amqp_get_rpc_reply(state), "channel.open")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    private static func tcpSocket(_ state: amqp_connection_state_t, broker: String) throws(AMQPError) -> OpaquePointer {
        guard let socket = amqp_tcp_socket_new(state) else {
            throw AMQPError(operation: "connect", kind: .unexpected("cannot create socket"), broker: broker)
        }
        return socket
    }

    /// rabbitmq-c's OpenSSL socket, with peer and hostname verification as configured (on by default).
    private static func tlsSocket(_ state: amqp_connection_state_t, _ tls: BrokerTLS, broker: String) throws(AMQPError)
        -> OpaquePointer
    {
        guard let socket = amqp_ssl_socket_new(state) else {
            throw AMQPError(operation: "TLS setup", kind: .unexpected("cannot create TLS socket"), broker: broker)
        }
        amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
        amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
        let ca = tls.caFile ?? BrokerTLS.systemBundle
        if tls.verifyPeer || tls.caFile != nil {
            let rc = amqp_ssl_socket_set_cacert(socket, ca)
            if rc != AMQP_STATUS_OK.rawValue {
                throw AMQPError(operation: "TLS setup", kind: .library(code: rc, message: "cannot load CA file \(ca)"),
                                broker: broker)
            }
        }
        if let cert = tls.certFile {
            guard let key = tls.keyFile else {
                throw AMQPError(operation: "TLS setup", kind: .unexpected("a client certificate needs its key file"), broker: broker)
            }
            let rc = amqp_ssl_socket_set_key(socket, cert, key)
            if rc != AMQP_STATUS_OK.rawValue {
                throw AMQPError(operation: "TLS setup",
                                kind: .library(code: rc, message: "cannot load client certificate \(cert) with key \(key)"),
                                broker: broker)
            }
        }
        return socket
    }

    /// What a TLS failure most likely means, for an operator reading the log.
    private static func tlsHint(_ rc: Int32, _ tls: BrokerTLS, afterHandshake: Bool = false) -> String {
        let ca = tls.caFile ?? BrokerTLS.systemBundle
        let tlsCodes = [AMQP_STATUS_SSL_ERROR, AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED, AMQP_STATUS_SSL_PEER_VERIFY_FAILED,
                        AMQP_STATUS_SSL_CONNECTION_FAILED].map(\.rawValue)
        guard tlsCodes.contains(rc) else { return "" }
        let reason = tlsLastReason()
        let openssl = reason.isEmpty ? "" : "; OpenSSL: \(reason)"
        if reason.contains("certificate required") {
            return " (the broker requires a client certificate: set broker.tls.cert_file and broker.tls.key_file\(openssl))"
        }
        if ["unknown ca", "bad certificate", "certificate unknown", "unsupported certificate"].contains(where: reason.contains) {
            let which = tls.certFile.map { "the client certificate \($0)" } ?? "the client certificate"
            return " (the broker refused \(which): is it signed by a CA the broker trusts\(openssl))"
        }
        if afterHandshake && reason.isEmpty {
            // TLS 1.3 ends the handshake before the broker checks the client; its refusal may then show
            // only as a closed socket, without OpenSSL's reason.
            guard let cert = tls.certFile else {
                return " (TLS failed after the handshake: the broker may require a client certificate, and broker.tls.cert_file is not set)"
            }
            return " (TLS failed after the handshake: the broker may have refused the client certificate \(cert): is it signed by a CA the broker trusts?)"
        }
        switch rc {
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
            return " (the broker's certificate does not chain to the CA in \(ca)\(openssl))"
        case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return " (the broker's certificate does not name the host in the URL\(openssl))"
        case AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue, AMQP_STATUS_SSL_ERROR.rawValue:
            return " (TLS handshake failed: is this a TLS port, and does the certificate chain to \(ca)?\(openssl))"
        default:
            return ""
        }
    }

    /// OpenSSL's latest reason on this thread, "" if none.
    private static func tlsLastReason() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        jippnas_tls_last_reason(&buffer, buffer.count)
        return String(cString: buffer)
    }

    /// Closes channel and connection politely when possible, and frees the connection.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        _ = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        amqp_destroy_connection(state)
    }

    /// Closes without the close handshake, for a connection already known to be broken.
    public func abandon() {
        guard isOpen else { return }
        isOpen = false
        amqp_destroy_connection(state)
    }

    // MARK: Topology

    /// Declares a durable exchange of `type` (idempotent on the broker). With `passive` it only checks that
    /// the exchange exists, which needs no configure permission (provisioned brokers).
    public func declareExchange(_ name: String, type: String = "topic", durable: Bool = true, passive: Bool = false)
        throws(AMQPError)
    {
        withBytes(name) { nameBytes in
            withBytes(type) { typeBytes in
                _ = amqp_exchange_declare(state, channel, nameBytes, typeBytes, passive ? 1 : 0, durable ? 1 : 0, 0, 0,
                                          amqp_empty_table)
            }
        }
        try check(amqp_get_rpc_reply(state), "exchange.declare\(passive ? "(passive)" : "") \(name)")
    }

    /// Declares a durable queue with `arguments` and returns its message count.
    @discardableResult
    public func declareQueue(_ name: String, durable: Bool = true, arguments: [String: AMQPArgument] = [:])
        throws(AMQPError) -> UInt32
    {
        var count: UInt32 = 0
        withTable(arguments.sorted { $0.key < $1.key }) { table in
            withBytes(name) { nameBytes in
                if let ok = amqp_queue_declare(state, channel, nameBytes, 0, durable ? 1 : 0, 0, 0, table) {
                    count = ok.pointee.message_count
                }
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.declare \(name)")
        return count
    }

    /// The number of ready messages in an existing queue (passive declare).
    public func queueDepth(_ name: String) throws(AMQPError) -> UInt32 {
        try queueStatus(name).messages
    }

    /// Ready messages and consumers of an existing queue (passive declare: throws 404 when it is missing).
    public func queueStatus(_ name: String) throws(AMQPError) -> (messages: UInt32, consumers: UInt32) {
        var status: (UInt32, UInt32) = (0, 0)
        withBytes(name) { nameBytes in
            if let ok = amqp_queue_declare(state, channel, nameBytes, 1, 0, 0, 0, amqp_empty_table) {
                status = (ok.pointee.message_count, ok.pointee.consumer_count)
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.declare(passive) \(name)")
        return status
    }

    /// Opens the channel again after the broker closed it (a refused declaration); the connection stays.
    public func reopenChannel() throws(AMQPError) {
        _ = amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
    }

    /// Removes the binding of `queue` to `exchange` with `pattern` (a missing binding is not an error).
    public func unbindQueue(_ queue: String, exchange: String, pattern: String) throws(AMQPError) {
        try changeBinding(queue, exchange, pattern, bind: false)
    }

    /// Deletes `queue` and returns how many messages it still held. With `ifEmpty` the broker refuses
    /// (406) while it holds a message; quorum queues do not support that (540 NOT_IMPLEMENTED).
    @discardableResult
    public func deleteQueue(_ queue: String, ifEmpty: Bool) throws(AMQPError) -> UInt32 {
        var count: UInt32 = 0
        withBytes(queue) { q in
            if let ok = amqp_queue_delete(state, channel, q, 0, ifEmpty ? 1 : 0) { count = ok.pointee.message_count }
        }
        try check(amqp_get_rpc_reply(state), "queue.delete \(queue)")
        return count
    }

    /// Deletes `exchange` (a missing one is not an error in RabbitMQ 3.x).
    public func deleteExchange(_ exchange: String) throws(AMQPError) {
        withBytes(exchange) { e in _ = amqp_exchange_delete(state, channel, e, 0) }
        try check(amqp_get_rpc_reply(state), "exchange.delete \(exchange)")
    }

    /// Binds `queue` to `exchange` with a routing pattern.
    public func bindQueue(_ queue: String, exchange: String, pattern: String) throws(AMQPError) {
        try changeBinding(queue, exchange, pattern, bind: true)
    }

    private func changeBinding(_ queue: String, _ exchange: String, _ pattern: String, bind: Bool) throws(AMQPError) {
        withBytes(queue) { q in
            withBytes(exchange) { e in
                withBytes(pattern) { p in
                    if bind {
                        _ = amqp_queue_bind(state, channel, q, e, p, amqp_empty_table)
                    } else {
                        _ = amqp_queue_unbind(state, channel, q, e, p, amqp_empty_table)
                    }
                }
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.\(bind ? "bind" : "unbind") \(queue) \(exchange) \(pattern)")
    }

    // MARK: Publishing with confirms

    /// Puts the channel in confirm mode; delivery tags then count from 1.
    public func enableConfirms() throws(AMQPError) {
        _ = amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
    }

    /// Publishes a persistent JSON message. Returns once the frames are written; the confirm comes later
    /// through ``nextConfirmEvent(timeout:)``.
    public func publish(exchange: String, routingKey: String, body: UnsafeRawBufferPointer,
                        properties: PublishProperties, mandatory: Bool = true) throws(AMQPError)
    {
        var props = amqp_basic_properties_t()
        props._flags = jippnas_flag_delivery_mode | jippnas_flag_message_id
            | jippnas_flag_timestamp | jippnas_flag_type | jippnas_flag_app_id
        if properties.contentType != nil { props._flags |= jippnas_flag_content_type }
        props.delivery_mode = 2
        props.timestamp = properties.timestamp
        let bodyBytes = amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress))
        let rc: Int32 = withTable(properties.headers.map { ($0.name, AMQPArgument.string($0.value)) }) { headers in
         withBytes(properties.contentType ?? "") { contentType in
            withBytes(properties.messageID) { messageID in
                withBytes(properties.type) { type in
                    withBytes(properties.appID) { appID in
                        withBytes(properties.userID ?? "") { userID in
                            withBytes(exchange) { ex in
                                withBytes(routingKey) { rk in
                                    props.content_type = contentType
                                    props.message_id = messageID
                                    props.type = type
                                    props.app_id = appID
                                    if properties.userID != nil {
                                        props._flags |= jippnas_flag_user_id
                                        props.user_id = userID
                                    }
                                    if headers.num_entries > 0 {
                                        props._flags |= jippnas_flag_headers
                                        props.headers = headers
                                    }
                                    return amqp_basic_publish(state, channel, ex, rk, mandatory ? 1 : 0, 0, &props, bodyBytes)
                                }
                            }
                        }
                    }
                }
            }
         }
        }
        if rc != AMQP_STATUS_OK.rawValue { throw libraryError(rc, "publish \(routingKey)") }
    }

    /// Waits up to `timeout` for the next ack, nack or return. Returns nil on timeout. Heartbeats are
    /// serviced while it waits, so an idle publisher calls this to keep its connection alive.
    public func nextConfirmEvent(timeout: Duration) throws(AMQPError) -> ConfirmEvent? {
        var frame = amqp_frame_t()
        var tv = timeval(duration: timeout)
        let rc = amqp_simple_wait_frame_noblock(state, &frame, &tv)
        if rc == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        if rc != AMQP_STATUS_OK.rawValue { throw libraryError(rc, "wait for confirms") }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return nil }
        let method = frame.payload.method
        switch method.id {
        case jippnas_method_basic_ack:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case jippnas_method_basic_nack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case jippnas_method_basic_return:
            let ret = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let replyCode = ret.reply_code
            let routingKey = Self.string(ret.routing_key)
            var message = amqp_message_t()
            let reply = amqp_read_message(state, channel, &message, 0)
            try check(reply, "read returned message")
            defer { amqp_destroy_message(&message) }
            let id = message.properties._flags & jippnas_flag_message_id != 0
                ? Self.string(message.properties.message_id) : nil
            return .returned(messageID: id, replyCode: replyCode, routingKey: routingKey)
        case jippnas_method_basic_deliver:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = deliver.delivery_tag, redelivered = deliver.redelivered != 0
            let exchange = Self.string(deliver.exchange), routingKey = Self.string(deliver.routing_key)
            var message = amqp_message_t()
            try check(amqp_read_message(state, channel, &message, 0), "read delivered message")
            defer { amqp_destroy_message(&message) }
            return .delivery(Self.delivery(tag: tag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                                           properties: message.properties, body: message.body))
        default:
            try handleUnexpectedMethod(method, "wait for confirms")
            return nil
        }
    }

    // MARK: Consuming

    /// Sets the prefetch (unacknowledged deliveries the broker sends ahead).
    public func setPrefetch(_ count: UInt16) throws(AMQPError) {
        _ = amqp_basic_qos(state, channel, 0, count, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos \(count)")
    }

    /// Starts a consumer with manual acknowledgement. `arguments` are the consumer's (`x-stream-offset`).
    public func startConsumer(queue: String, consumerTag: String, arguments: [String: AMQPArgument] = [:])
        throws(AMQPError)
    {
        withTable(arguments.sorted { $0.key < $1.key }) { table in
            withBytes(queue) { q in
                withBytes(consumerTag) { tag in _ = amqp_basic_consume(state, channel, q, tag, 0, 0, 0, table) }
            }
        }
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
    }

    /// The next delivery, or nil when none came within `timeout`. Heartbeats are serviced while waiting.
    public func nextDelivery(timeout: Duration) throws(AMQPError) -> AMQPDelivery? {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var tv = timeval(duration: timeout)
        let reply = amqp_consume_message(state, &envelope, &tv, 0)
        if reply.reply_type == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            return Self.delivery(tag: envelope.delivery_tag, redelivered: envelope.redelivered != 0,
                                 exchange: Self.string(envelope.exchange), routingKey: Self.string(envelope.routing_key),
                                 properties: envelope.message.properties, body: envelope.message.body)
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
            if reply.library_error == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            if reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
                // Not a delivery: read the frame that is (a close, most likely) and turn it into an error.
                var frame = amqp_frame_t()
                let rc = amqp_simple_wait_frame(state, &frame)
                if rc != AMQP_STATUS_OK.rawValue { throw libraryError(rc, "consume") }
                if frame.frame_type == UInt8(AMQP_FRAME_METHOD) {
                    try handleUnexpectedMethod(frame.payload.method, "consume")
                }
                return nil
            }
        }
        try check(reply, "consume")
        return nil
    }

    /// Waits until the connection has something to read or `wake` (another thread's signal) becomes
    /// readable, for at most `timeout`. Returns whether the connection has input. Frames rabbitmq-c has
    /// already buffered count as input without waiting.
    ///
    /// Heartbeats are sent only from within rabbitmq-c's own calls: keep `timeout` well under the
    /// heartbeat interval and call ``nextDelivery(timeout:)`` after each wait.
    public func waitForInput(timeout: Duration, wake: Int32) throws(AMQPError) -> Bool {
        if amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 { return true }
        var fds = [pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let rc = poll(&fds, nfds_t(fds.count), milliseconds)
        if rc < 0 && errno != EINTR {
            throw AMQPError(operation: "wait for input", kind: .library(code: -errno, message: "poll failed: errno \(errno)"),
                            broker: brokerName)
        }
        return rc > 0 && fds[0].revents != 0
    }

    /// Copies a delivery out of rabbitmq-c's buffers, which die with the envelope or message.
    private static func delivery(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String,
                                 properties p: amqp_basic_properties_t, body: amqp_bytes_t) -> AMQPDelivery
    {
        let flags = p._flags
        let (headers, streamOffset) = flags & jippnas_flag_headers != 0 ? readHeaders(p.headers) : ([:], nil)
        return AMQPDelivery(
            deliveryTag: tag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
            messageID: flags & jippnas_flag_message_id != 0 ? string(p.message_id) : nil,
            contentType: flags & jippnas_flag_content_type != 0 ? string(p.content_type) : nil,
            type: flags & jippnas_flag_type != 0 ? string(p.type) : nil,
            userID: flags & jippnas_flag_user_id != 0 ? string(p.user_id) : nil,
            appID: flags & jippnas_flag_app_id != 0 ? string(p.app_id) : nil,
            timestamp: flags & jippnas_flag_timestamp != 0 ? p.timestamp : nil,
            headers: headers, streamOffset: streamOffset,
            body: body.len > 0 ? Data(bytes: body.bytes, count: body.len) : Data())
    }

    /// The `x-jippnas-*` string headers of a table, and the integer `x-stream-offset` a stream puts on each
    /// delivery, in one pass (this runs for every delivery).
    private static func readHeaders(_ table: amqp_table_t) -> (headers: [String: String], streamOffset: Int64?) {
        guard table.num_entries > 0, let entries = table.entries else { return ([:], nil) }
        var out: [String: String] = [:]
        var offset: Int64?
        for i in 0..<Int(table.num_entries) {
            let entry = entries[i]
            let key = string(entry.key)
            let kind = entry.value.kind
            if key.hasPrefix("x-jippnas-") {
                if kind == UInt8(AMQP_FIELD_KIND_UTF8.rawValue) || kind == UInt8(AMQP_FIELD_KIND_BYTES.rawValue) {
                    out[key] = string(entry.value.value.bytes)
                }
            } else if key == "x-stream-offset" {
                switch kind {
                case UInt8(AMQP_FIELD_KIND_I64.rawValue): offset = entry.value.value.i64
                case UInt8(AMQP_FIELD_KIND_U64.rawValue): offset = Int64(clamping: entry.value.value.u64)
                case UInt8(AMQP_FIELD_KIND_I32.rawValue): offset = Int64(entry.value.value.i32)
                default: break
                }
            }
        }
        return (out, offset)
    }

    /// Acknowledges `tag`, and with `multiple` every earlier unacknowledged delivery.
    public func ack(_ tag: UInt64, multiple: Bool) throws(AMQPError) {
        let rc = amqp_basic_ack(state, channel, tag, multiple ? 1 : 0)
        if rc != AMQP_STATUS_OK.rawValue { throw libraryError(rc, "basic.ack \(tag)") }
    }

    /// Rejects `tag`; without requeue the broker dead-letters it.
    public func reject(_ tag: UInt64, requeue: Bool) throws(AMQPError) {
        let rc = amqp_basic_reject(state, channel, tag, requeue ? 1 : 0)
        if rc != AMQP_STATUS_OK.rawValue { throw libraryError(rc, "basic.reject \(tag)") }
    }

    // MARK: Moving messages between queues

    /// Moves every message `source` holds into `destination`, oldest first, until `source` is empty, and
    /// returns how many moved. Messages are taken here (`basic.get`) and republished on `publisher`, a
    /// second connection (confirms arriving between a get and its content would confuse rabbitmq-c on one
    /// channel), to `exchange` with their own routing key and their exact properties and headers: user-id
    /// included, which needs the `impersonator` tag on the login user. `exchange` must route to
    /// `destination` only (a fanout exchange bound to it alone): the routing key is part of the message. Each is acknowledged on `source` only after
    /// the broker confirmed it on `destination`: a failure leaves it in `source` (at worst in both, which
    /// the catalogue recognises by message id).
    ///
    /// Puts `publisher`'s channel in confirm mode; nothing else may publish on it.
    public func moveMessages(from source: String, to destination: String, through exchange: String,
                             publishingOn publisher: AMQPConnection, batch: Int = 500) throws(AMQPError) -> Int
    {
        try publisher.enableConfirms()
        var moved = 0
        while true {
            var lastTag: UInt64?
            var outstanding = Set<UInt64>()
            while outstanding.count < batch, let tag = try getAndRepublish(from: source, to: exchange, on: publisher) {
                lastTag = tag
                publisher.movePublishes += 1
                outstanding.insert(publisher.movePublishes)
            }
            guard let lastTag else { return moved }
            moved += outstanding.count
            try publisher.awaitConfirms(&outstanding, operation: "move \(source) to \(destination)")
            try ack(lastTag, multiple: true)
        }
    }

    /// One `basic.get` from `source`, republished to `exchange` on `publisher`; nil when `source` is empty.
    private func getAndRepublish(from source: String, to exchange: String, on publisher: AMQPConnection)
        throws(AMQPError) -> UInt64?
    {
        amqp_maybe_release_buffers(state)
        let reply = withBytes(source) { q in amqp_basic_get(state, channel, q, 0) }
        try check(reply, "basic.get \(source)")
        guard reply.reply.id == jippnas_method_basic_get_ok else { return nil }
        let ok = reply.reply.decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        let tag = ok.delivery_tag
        let routingKey = Self.string(ok.routing_key)  // copied: the frame's memory goes with the next read
        var message = amqp_message_t()
        try check(amqp_read_message(state, channel, &message, 0), "read message from \(source)")
        defer { amqp_destroy_message(&message) }
        var properties = message.properties
        let rc = withBytes(exchange) { ex in
            withBytes(routingKey) { rk in
                amqp_basic_publish(publisher.state, publisher.channel, ex, rk, 1, 0, &properties, message.body)
            }
        }
        if rc != AMQP_STATUS_OK.rawValue { throw publisher.libraryError(rc, "publish to \(exchange)") }
        return tag
    }

    /// Waits until every publish in `outstanding` is confirmed; a nack or a returned message is an error.
    func awaitConfirms(_ outstanding: inout Set<UInt64>, operation: String) throws(AMQPError) {
        while !outstanding.isEmpty {
            guard let event = try nextConfirmEvent(timeout: .seconds(30)) else {
                throw AMQPError(operation: operation, kind: .unexpected("no confirm within 30 s"), broker: brokerName)
            }
            switch event {
            case .ack(let tag, let multiple):
                if multiple { outstanding = outstanding.filter { $0 > tag } } else { outstanding.remove(tag) }
            case .nack(let tag, _):
                throw AMQPError(operation: operation, kind: .unexpected("the broker refused message \(tag) (nack)"),
                                broker: brokerName)
            case .returned(let id, let code, let key):
                throw AMQPError(operation: operation, kind: .unexpected("message \(id ?? "?") returned \(code): no queue \(key)"),
                                broker: brokerName)
            case .delivery:
                continue
            }
        }
    }

    // MARK: Errors: the one place rabbitmq-c statuses become AMQPError

    private func check(_ reply: amqp_rpc_reply_t, _ operation: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw libraryError(reply.library_error, operation)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            try handleUnexpectedMethod(reply.reply, operation)
            throw AMQPError(operation: operation, kind: .unexpected("server exception"), broker: brokerName)
        default:
            throw AMQPError(operation: operation, kind: .unexpected("no RPC reply"), broker: brokerName)
        }
    }

    /// Answers a broker-initiated close (so the broker logs a clean close) and throws it as an error.
    private func handleUnexpectedMethod(_ method: amqp_method_t, _ operation: String) throws(AMQPError) {
        switch method.id {
        case jippnas_method_connection_close:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t()
            _ = amqp_send_method(state, 0, jippnas_method_connection_close_ok, &ok)
            throw AMQPError(operation: operation,
                            kind: .connectionClosed(replyCode: close.reply_code, replyText: Self.string(close.reply_text)),
                            broker: brokerName)
        case jippnas_method_channel_close:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t()
            _ = amqp_send_method(state, channel, jippnas_method_channel_close_ok, &ok)
            throw AMQPError(operation: operation,
                            kind: .channelClosed(replyCode: close.reply_code, replyText: Self.string(close.reply_text)),
                            broker: brokerName)
        default:
            throw AMQPError(operation: operation, kind: .unexpected(String(format: "method 0x%08x", method.id)),
                            broker: brokerName)
        }
    }

    func libraryError(_ code: Int32, _ operation: String) -> AMQPError {
        AMQPError(operation: operation, kind: .library(code: code, message: Self.statusText(code)), broker: brokerName)
    }

    private static func statusText(_ code: Int32) -> String { String(cString: amqp_error_string2(code)) }

    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }
}

@inline(__always)
private func withBytes<R>(_ s: String, _ body: (amqp_bytes_t) -> R) -> R {
    var s = s
    return s.withUTF8 { buf in body(amqp_bytes_t(len: buf.count, bytes: UnsafeMutableRawPointer(mutating: buf.baseAddress))) }
}

/// Builds an `amqp_table_t` whose strings live for the duration of `body`.
private func withTable<R>(_ arguments: [(String, AMQPArgument)], _ body: (amqp_table_t) -> R) -> R {
    guard !arguments.isEmpty else { return body(amqp_empty_table) }
    var storage: [UnsafeMutablePointer<CChar>] = []
    defer { storage.forEach { free($0) } }
    func bytes(_ s: String) -> amqp_bytes_t {
        let p = strdup(s)!
        storage.append(p)
        return amqp_bytes_t(len: strlen(p), bytes: UnsafeMutableRawPointer(p))
    }
    var entries: [amqp_table_entry_t] = arguments.map { key, value in
        var entry = amqp_table_entry_t()
        entry.key = bytes(key)
        switch value {
        case .string(let s):
            entry.value.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            entry.value.value.bytes = bytes(s)
        case .int(let i):
            entry.value.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            entry.value.value.i64 = i
        case .timestamp(let seconds):
            entry.value.kind = UInt8(AMQP_FIELD_KIND_TIMESTAMP.rawValue)
            entry.value.value.u64 = seconds
        }
        return entry
    }
    return entries.withUnsafeMutableBufferPointer { buf in
        body(amqp_table_t(num_entries: Int32(buf.count), entries: buf.baseAddress))
    }
}

extension timeval {
    init(duration: Duration) {
        let (seconds, atto) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(atto / 1_000_000_000_000))
    }
}
