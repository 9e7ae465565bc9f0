/// A single-pass structural check of a JSON text, run before `JSONDecoder` sees a body.
///
/// `JSONDecoder` silently keeps one of two duplicate keys and recurses as deep as the input goes; a
/// hostile publisher could use the first to make the aggregator and a reader of the raw body disagree about
/// a field, and the second to exhaust the stack. This scanner refuses both, allocating only for keys.
/// It checks structure, not values: numbers and literals are left to the decoder.
public enum StrictJSON {
    /// What the scanner refused.
    public enum Problem: Error, Sendable, Hashable {
        /// The same key twice in one object; carries the key (truncated to 64 bytes).
        case duplicateKey(String)
        /// Objects and arrays nested deeper than allowed.
        case tooDeep
        /// Not a JSON text (unbalanced brackets, a bad escape, a lone surrogate, trailing bytes).
        case malformed
    }

    /// The default nesting limit: an envelope is three levels deep, so sixteen leaves room for additions.
    public static let defaultMaxDepth = 16

    /// Checks `bytes`; nil when they pass.
    public static func check(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) -> Problem? {
        var scanner = Scanner(bytes: bytes, maxDepth: maxDepth)
        return scanner.run()
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var index = 0

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        mutating func run() -> Problem? {
            do throws(Problem) {
                skipSpace()
                try value(depth: 0)
                skipSpace()
                if index != bytes.count { throw .malformed }
                return nil
            } catch {
                return error
            }
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Problem) {
            guard index < bytes.count else { throw .malformed }
            switch bytes[index] {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): _ = try string(keep: false)
            default:
                // Numbers and literals: consume their characters; the decoder judges them.
                let start = index
                while index < bytes.count {
                    let c = bytes[index]
                    let isScalarChar = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || c == 0x2B || c == 0x2D
                        || c == 0x2E || c == 0x45
                    guard isScalarChar else { break }
                    index += 1
                }
                if index == start { throw .malformed }
            }
        }

        mutating func object(depth: Int) throws(Problem) {
            if try opensEmpty(depth: depth, closing: UInt8(ascii: "}")) { return }
            var keys = Set<String>()
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw .malformed }
                let key = try string(keep: true)
                if !keys.insert(key).inserted { throw .duplicateKey(String(decoding: key.utf8.prefix(64), as: UTF8.self)) }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw .malformed }
                index += 1
                skipSpace()
                try value(depth: depth)
                if try endsAfterMember(closing: UInt8(ascii: "}")) { return }
            }
        }

        mutating func array(depth: Int) throws(Problem) {
            if try opensEmpty(depth: depth, closing: UInt8(ascii: "]")) { return }
            while true {
                skipSpace()
                try value(depth: depth)
                if try endsAfterMember(closing: UInt8(ascii: "]")) { return }
            }
        }

        /// Consumes an opening bracket at `depth`; true when the container is empty (and consumed whole).
        mutating func opensEmpty(depth: Int, closing close: UInt8) throws(Problem) -> Bool {
            if depth > maxDepth { throw .tooDeep }
            index += 1
            skipSpace()
            guard index < bytes.count, bytes[index] == close else { return false }
            index += 1
            return true
        }

        /// After a member or element: consumes `,` (false: more follow) or `close` (true: the container ends).
        mutating func endsAfterMember(closing close: UInt8) throws(Problem) -> Bool {
            skipSpace()
            guard index < bytes.count else { throw .malformed }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                return false
            }
            guard bytes[index] == close else { throw .malformed }
            index += 1
            return true
        }

        /// Consumes a string; with `keep`, returns its decoded text (escapes resolved, so `"a"` and
        /// `"\u0061"` are the same key).
        mutating func string(keep: Bool) throws(Problem) -> String {
            index += 1  // opening quote
            let start = index
            var escaped = false
            while index < bytes.count {
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    guard keep else { return "" }
                    return escaped ? try Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
                }
                if c < 0x20 { throw .malformed }  // raw control characters are not allowed inside JSON strings
                if c == UInt8(ascii: "\\") {
                    escaped = true
                    index += 1
                    guard index < bytes.count else { throw .malformed }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        let unit = try hex4(at: index + 1)
                        index += 5
                        if unit >= 0xD800 && unit <= 0xDBFF {
                            // A high surrogate must be followed by an escaped low surrogate.
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                  bytes[index + 1] == UInt8(ascii: "u") else { throw .malformed }
                            let low = try hex4(at: index + 2)
                            guard low >= 0xDC00 && low <= 0xDFFF else { throw .malformed }
                            index += 6
                        } else if unit >= 0xDC00 && unit <= 0xDFFF {
                            throw .malformed
                        }
                    default:
                        throw .malformed
                    }
                    continue
                }
                index += 1
            }
            throw .malformed
        }

        func hex4(at position: Int) throws(Problem) -> UInt32 {
            guard position + 4 <= bytes.count else { throw .malformed }
            var value: UInt32 = 0
            for i in position..<(position + 4) {
                let c = bytes[i]
                let digit: UInt8
                switch c {
                case 0x30...0x39: digit = c - 0x30
                case 0x41...0x46: digit = c - 0x41 + 10
                case 0x61...0x66: digit = c - 0x61 + 10
                default: throw .malformed
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        /// Resolves the escapes of an already-validated string body.
        static func unescape(_ raw: UnsafeRawBufferPointer) throws(Problem) -> String {
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var i = 0
            func hex(_ at: Int) -> UInt32 {
                var v: UInt32 = 0
                for k in at..<(at + 4) {
                    let c = raw[k]
                    v = v << 4 | UInt32(c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10)
                }
                return v
            }
            while i < raw.count {
                let c = raw[i]
                guard c == UInt8(ascii: "\\") else {
                    out.append(c)
                    i += 1
                    continue
                }
                let e = raw[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = hex(i)
                    i += 4
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex(i + 2) - 0xDC00)
                        i += 6
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw .malformed }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: out.append(e)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
