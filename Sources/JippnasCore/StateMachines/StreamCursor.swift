import Foundation

/// Where a stream consumer begins reading (`x-stream-offset`).
public enum StreamStart: Sendable, Equatable, CustomStringConvertible {
    /// The oldest message the stream still holds.
    case first
    /// The start of the last chunk written.
    case last
    /// Only messages written after the consumer attached.
    case next
    /// A message's offset, as deliveries carry it in their `x-stream-offset` header.
    case offset(Int64)
    /// The first message written at or after this time (seconds since the epoch).
    case timestamp(UInt64)

    /// Parses `first`, `last`, `next`, an offset (digits) or an RFC 3339 time.
    public init(parsing text: String) throws(StreamStartError) {
        switch text {
        case "first": self = .first
        case "last": self = .last
        case "next": self = .next
        default:
            if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let offset = Int64(text) {
                self = .offset(offset)
            } else if let date = Timestamp.parse(text), date.timeIntervalSince1970 >= 0 {
                self = .timestamp(UInt64(date.timeIntervalSince1970))
            } else {
                throw StreamStartError(text: text)
            }
        }
    }

    /// The consumer argument.
    public var argument: AMQPArgument {
        switch self {
        case .first: .string("first")
        case .last: .string("last")
        case .next: .string("next")
        case .offset(let offset): .int(offset)
        case .timestamp(let seconds): .timestamp(seconds)
        }
    }

    public var description: String {
        switch self {
        case .first: "first"
        case .last: "last"
        case .next: "next"
        case .offset(let offset): "offset \(offset)"
        case .timestamp(let seconds): "time \(Timestamp.rfc3339(Date(timeIntervalSince1970: TimeInterval(seconds))))"
        }
    }
}

/// A stream start that is none of the accepted forms.
public struct StreamStartError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String {
        "'\(text)' is not a stream position: use first, last, next, an offset (digits) or an RFC 3339 time"
    }
}

/// A catalogue fed from a stream: which offset it has applied, so that a restart resumes exactly after it.
///
/// The offset is stored in the same transaction as the changes it covers, so what the catalogue holds and
/// where it resumes cannot disagree. A RabbitMQ stream consumer attached at an offset may first be given
/// the earlier messages of the chunk that holds it; those are recognised here and skipped.
public struct StreamCursor: Sendable, Equatable {
    /// The first offset not yet applied; nil while nothing has been.
    public private(set) var nextOffset: Int64?

    public init(nextOffset: Int64?) {
        self.nextOffset = nextOffset
    }

    /// Where to attach: just after what is applied, when anything is; else where the operator asked.
    public func attach(configured: StreamStart) -> StreamStart {
        nextOffset.map { .offset($0) } ?? configured
    }

    /// Whether a delivery from `offset` is still to be applied (nil: a delivery without an offset, which
    /// cannot be placed and is applied like a queue's; the catalogue recognises repeats by message id).
    public func isNew(_ offset: Int64?) -> Bool {
        guard let offset, let nextOffset else { return true }
        return offset >= nextOffset
    }

    /// Everything up to and including `offset` is committed.
    public mutating func committed(through offset: Int64) {
        nextOffset = max(nextOffset ?? 0, offset + 1)
    }
}
