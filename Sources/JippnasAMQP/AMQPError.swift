import CRabbitMQ

/// A failure of the AMQP layer, with the operation it happened in.
///
/// Every rabbitmq-c status and `amqp_rpc_reply_t` becomes one of these in ``AMQPConnection`` and nowhere
/// else, so callers decide on the kind (retry, give up, report) without knowing the C library.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// rabbitmq-c reported a status (socket, protocol, heartbeat timeout...).
        case library(code: Int32, message: String)
        /// The broker closed the channel (for example 404 NOT_FOUND, 403 ACCESS_REFUSED).
        case channelClosed(replyCode: UInt16, replyText: String)
        /// The broker closed the connection (for example 320 CONNECTION_FORCED on shutdown).
        case connectionClosed(replyCode: UInt16, replyText: String)
        /// Login refused.
        case authentication(String)
        /// A frame arrived that this state does not expect.
        case unexpected(String)
    }

    /// What was being done: `connect`, `publish`, `queue.declare jippnas.national`...
    public var operation: String
    public var kind: Kind
    /// The broker, redacted.
    public var broker: String

    public init(operation: String, kind: Kind, broker: String) {
        self.operation = operation
        self.kind = kind
        self.broker = broker
    }

    /// Whether the connection is unusable after this error and must be replaced.
    public var connectionLost: Bool {
        switch kind {
        case .channelClosed: false
        default: true
        }
    }

    /// The broker refused the login or an operation (403 ACCESS_REFUSED): retrying cannot help until an
    /// operator fixes credentials, permissions or configuration.
    public var accessRefused: Bool {
        switch kind {
        case .channelClosed(403, _), .connectionClosed(403, _), .authentication: true
        default: false
        }
    }

    /// The broker holds the queue with another type than the one declared (406, inequivalent arg
    /// 'x-queue-type'): a queue's type cannot change in place.
    public var queueTypeMismatch: Bool {
        switch kind {
        case .channelClosed(406, let text), .connectionClosed(406, let text): text.contains("x-queue-type")
        default: false
        }
    }

    /// Only the channel was closed: the connection is still usable once a channel is opened again.
    public var isChannelClosed: Bool {
        if case .channelClosed = kind { return true }
        return false
    }

    /// The queue exists with another value of an argument than the one declared, not its type
    /// (406, inequivalent arg 'x-max-age', 'x-delivery-limit'...).
    public var otherArgumentMismatch: Bool {
        switch kind {
        case .channelClosed(406, let text): text.contains("inequivalent arg") && !queueTypeMismatch
        default: false
        }
    }

    public var description: String {
        let detail: String
        switch kind {
        case .library(let code, let message): detail = "\(message) (status \(code))"
        case .channelClosed(let code, let text): detail = "channel closed by broker: \(code) \(text)"
        case .connectionClosed(let code, let text): detail = "connection closed by broker: \(code) \(text)"
        case .authentication(let text): detail = "login refused: \(text)"
        case .unexpected(let text): detail = "unexpected: \(text)"
        }
        return "AMQP \(operation) on \(broker): \(detail)"
    }
}
