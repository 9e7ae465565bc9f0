/// Writes an envelope's JSON body in the federation's one form: keys sorted, absent optionals left out,
/// strings escaped as `JSONEncoder` escapes them (`"`, `\`, and controls below U+0020; `/` and non-ASCII
/// as they are). The bytes equal `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes`, which the
/// tests check field by field; writing them directly costs a tenth of the Codable path, and every import
/// and every record of a resync goes through here (Benchmarks/HotPaths).
struct EnvelopeWriter {
    private(set) var bytes: [UInt8] = []
    private static let hexDigits = Array("0123456789abcdef".utf8)

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    /// `schema` and `resync` are given as they go on the wire (resync only when set).
    mutating func write(_ envelope: Envelope, schema: Int) {
        open()
        optional("epoch", envelope.epoch)
        optional("epoch_parent", envelope.epochParent)
        key("event"); string(envelope.event.rawValue)
        key("hub"); string(envelope.hub)
        key("innovation"); write(envelope.innovation)
        if let link = envelope.chain.last { key("relayed"); write(link) }
        if envelope.resync { key("resync"); bytes.append(contentsOf: "true".utf8) }
        key("schema"); integer(Int64(schema))
        key("sent_at"); string(envelope.sentAt)
        key("seq"); integer(envelope.seq)
        close()
    }

    /// A record alone, in the same form as inside an envelope.
    static func bytes(of record: Innovation) -> [UInt8] {
        var writer = EnvelopeWriter(capacity: 1024)
        writer.write(record)
        return writer.bytes
    }

    private mutating func write(_ r: Innovation) {
        open()
        key("agency"); string(r.agency)
        optional("benefits", r.benefits)
        key("category"); string(r.category.rawValue)
        optional("contact", r.contact)
        key("id"); string(r.id)
        optional("initiator", r.initiator?.rawValue)
        key("kind"); string(r.kind.rawValue)
        optional("launched_on", r.launchedOn)
        key("region"); string(r.region)
        optional("replicates", r.replicates)
        key("revision"); integer(r.revision)
        key("stage"); string(r.stage.rawValue)
        key("status"); string(r.status.rawValue)
        optional("summary", r.summary)
        key("title"); string(r.title)
        key("updated_at"); string(r.updatedAt)
        optional("url", r.url)
        close()
    }

    private mutating func write(_ link: ChainLink) {
        open()
        key("body"); string(link.body.base64EncodedString())
        key("hub"); string(link.hub)
        optional("key_id", link.keyID)
        key("message_id"); string(link.messageID)
        optional("signature", link.signature)
        close()
    }

    /// Whether the next key needs a comma before it: false right after an opening brace.
    private var afterValue = false

    private mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        afterValue = false
    }

    private mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        afterValue = true
    }

    private mutating func key(_ name: StaticString) {
        if afterValue { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: "\":".utf8)
        afterValue = true
    }

    private mutating func optional(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    private mutating func integer(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }

    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
            case 0x0C: bytes.append(contentsOf: #"\f"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            case 0x00..<0x20:
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
