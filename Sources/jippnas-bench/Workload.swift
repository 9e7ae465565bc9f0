import Foundation
import JippnasAMQP
import JippnasCore
import JippnasServices
import JippnasStore
import JippnasTrust

/// The messages every scenario moves: the outbox bodies of hubs 35, 33 and 73, built once by the real
/// hub store, with each hub's signature.
struct Workload: Sendable {
    struct Message: Sendable {
        var routingKey: String
        var messageID: String
        var body: Data
        var signature: [(name: String, value: String)]
    }

    static let provinces = ["35", "33", "73"]
    static let regions = ["35": "35.78", "33": "33.74", "73": "73.71"]
    let count: Int
    /// Hub 35's messages alone (the relay's), and the three hubs' together (the aggregator's).
    let oneHub: [Message]
    let threeHubs: [Message]
    let keys: [String: HubSigningKey]
    let oneHubFile: String

    static func contents(province: String, count: Int, start: Int = 0) -> [InnovationContent] {
        (start..<(start + count)).map { n in
            InnovationContent(id: "b-\(n)", title: "Inovasi Benchmark \(province)-\(n)",
                              agency: "Dinas Kominfo Provinsi \(province)", region: regions[province] ?? "35.78",
                              category: .tataKelolaPemerintahan, kind: .digital, stage: .penerapan,
                              summary: String(repeating: "Ringkasan inovasi pelayanan publik. ", count: 10))
        }
    }

    init(count: Int, dir: String) throws {
        self.count = count
        var keys: [String: HubSigningKey] = [:]
        var all: [String: [Message]] = [:]
        for province in Self.provinces {
            let key = HubSigningKey.generate(province: province)
            keys[province] = key
            let share = province == "35" ? count : count / 3 + (province == "73" ? count % 3 : 0)
            let store = try HubStore(path: "\(dir)/workload-\(province).sqlite", province: province)
            _ = try store.importContents(Self.contents(province: province, count: share))
            all[province] = try store.pendingOutbox(after: 0, limit: share).map { entry in
                Message(routingKey: entry.routingKey, messageID: entry.messageID, body: entry.body,
                        signature: [(SignatureHeaders.signature, key.sign(entry.body)), (SignatureHeaders.keyID, key.keyID)])
            }
        }
        self.keys = keys
        oneHub = all["35"] ?? []
        // Interleaved, as three hubs publishing at once would arrive.
        let lanes: [[Message]] = [Array(all["35"]?.prefix(count / 3) ?? []), all["33"] ?? [], all["73"] ?? []]
        var mixed: [Message] = []
        mixed.reserveCapacity(count)
        for i in 0..<(lanes.map(\.count).max() ?? 0) {
            for lane in lanes where i < lane.count { mixed.append(lane[i]) }
        }
        threeHubs = mixed
        oneHubFile = dir + "/bodies-35.ndjson"
        try Data(oneHub.map { String(decoding: $0.body, as: UTF8.self) }.joined(separator: "\n").utf8)
            .write(to: URL(fileURLWithPath: oneHubFile))
    }

    /// Publishes `messages` with confirms (a window of 1,000), signed when asked: fills the national queue.
    static func fill(_ messages: [Message], url: BrokerURL, signed: Bool) throws {
        let connection = try AMQPConnection(url: url)
        defer { connection.close() }
        try connection.enableConfirms()
        var tracker = ConfirmTracker(window: 1000)
        var sent = 0, confirmed = 0
        while confirmed < messages.count {
            while sent < messages.count, tracker.hasRoom {
                let m = messages[sent]
                try m.body.withUnsafeBytes { b in
                    try connection.publish(exchange: WireNames.innovationExchange, routingKey: m.routingKey, body: b,
                                           properties: PublishProperties(messageID: m.messageID, type: "upsert", appID: "bench",
                                                                         timestamp: 0, headers: signed ? m.signature : []))
                }
                tracker.published(seq: Int64(sent + 1), messageID: m.messageID)
                sent += 1
            }
            if case .ack(let tag, let multiple)? = try connection.nextConfirmEvent(timeout: .milliseconds(100)) {
                confirmed += tracker.ack(tag: tag, multiple: multiple).confirmed.count
            }
        }
    }
}
