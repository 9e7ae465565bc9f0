// libFuzzer entry point for the envelope decoder and validator (scripts/fuzz builds it with
// -sanitize=fuzzer,address together with Sources/JippnasCore/{Model,Wire}; it is not a SwiftPM target).
//
// Besides "no crash, no sanitizer report", it checks two properties: whatever the decoder accepts, the
// validator accepts too; and an accepted envelope survives encode → decode unchanged.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let body = Data(bytes: start, count: count)
    // The first byte picks the routing key and content type, so one corpus reaches every branch.
    let selector = count > 0 ? start.load(as: UInt8.self) : 0
    let keys = ["35.innovation.upsert", "35.innovation.withdraw", "33.innovation.upsert", "35.hub.checkpoint", "x.y"]
    let routingKey = keys[Int(selector) % keys.count]
    let contentType: String? = selector & 0x80 == 0 ? "application/json" : nil

    switch EnvelopeCodec.decode(body, routingKey: routingKey, contentType: contentType) {
    case .failure:
        break
    case .success(let envelope):
        if let reason = InnovationValidator.validate(envelope.innovation, province: envelope.hub) {
            fatalError("decoder accepted what the validator refuses: \(reason)")
        }
        let again = EnvelopeCodec.encode(envelope)
        guard case .success(let decoded) = EnvelopeCodec.decode(again, routingKey: envelope.routingKey, contentType: nil),
              decoded == envelope else {
            fatalError("accepted envelope does not survive encode/decode")
        }
    }
    _ = ControlCodec.decodeCheckpoint(body, routingKey: "35.hub.checkpoint")
    _ = ControlCodec.decodeResync(body, province: "35")
    return 0
}
