import Benchmark
import Foundation
import JippnasCore
import JippnasStore
import JippnasTrust

// Micro-benchmarks of the functions every message goes through, with allocations counted, so a change
// that adds work per message shows as a regression. Run with scripts/micro-bench; the figures of the
// whole daemons are scripts/bench's.

/// Envelopes of one hub as its store encodes them, built once.
private struct Sample {
    static let count = 500
    let key = HubSigningKey.generate(province: "35")
    let messages: [Screening.Message]
    let signed: [Screening.Message]

    init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jippnas-micro-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try HubStore(path: dir + "/hub.sqlite", province: "35")
        _ = try store.importContents(Self.contents(start: 0, count: Self.count))
        let entries = try store.pendingOutbox(after: 0, limit: Self.count)
        messages = entries.map {
            Screening.Message(routingKey: $0.routingKey, messageID: $0.messageID, contentType: "application/json",
                              userID: nil, headers: [:], body: $0.body)
        }
        signed = messages.map { [key] message in
            var signed = message
            signed.headers = [SignatureHeaders.signature: key.sign(message.body), SignatureHeaders.keyID: key.keyID]
            return signed
        }
    }

    static func contents(start: Int, count: Int) -> [InnovationContent] {
        (start..<(start + count)).map { n in
            InnovationContent(id: "m-\(n)", title: "Inovasi Mikro \(n)", agency: "Dinas Kominfo Provinsi Jawa Timur",
                              region: "35.78", category: .tataKelolaPemerintahan, kind: .digital, stage: .penerapan,
                              summary: String(repeating: "Ringkasan inovasi pelayanan publik. ", count: 10))
        }
    }

    /// The screened changes of `messages`, for the apply benchmark.
    func changes() -> [IncomingChange] {
        messages.compactMap { message in
            guard case .change(let envelope, let messageID) = Screening.screen(message, maxBodyBytes: 1 << 20, policy: .open)
            else { return nil }
            return IncomingChange(envelope: envelope, messageID: messageID, routingKey: message.routingKey, body: message.body)
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 1_000)
    let sample = try! Sample()
    let trusted = ProvenancePolicy(trust: TrustStore(directory: "micro", keys: [sample.key.trusted]),
                                   requireSignatures: true, requireUserID: false)

    // A thousand envelopes per iteration (figures marked * are per envelope): one takes microseconds.
    let perEnvelope = Benchmark.Configuration(scalingFactor: .kilo)
    Benchmark("screen one envelope (decode, validate)", configuration: perEnvelope) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(Screening.screen(sample.messages[index % Sample.count], maxBodyBytes: 1 << 20, policy: .open))
        }
    }

    Benchmark("screen one signed envelope (decode, validate, Ed25519)", configuration: perEnvelope) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(Screening.screen(sample.signed[index % Sample.count], maxBodyBytes: 1 << 20, policy: trusted))
        }
    }

    let envelope = sample.changes()[0].envelope
    Benchmark("encode one envelope (hub outbox)", configuration: perEnvelope) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(EnvelopeCodec.encode(envelope)) }
    }

    // A hub answering a full resync: every record queued again (decode, encode, insert), then marked
    // published so that the next iteration has the same work.
    let hub = try! Hub(records: 5_000)
    Benchmark("queue a resync of 5,000 records (hub)", configuration: .init(maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            blackHole(try hub.store.enqueueResync(fromSeq: nil))
            benchmark.stopMeasurement()
            try hub.markAllPublished()
        }
    }

    // Each iteration applies the same 500 innovations at a revision one higher than the last, so every
    // change is a real update with a history row, as in a steady drain; synchronous=FULL as in production.
    let catalogue = try! Catalogue(changes: sample.changes())
    Benchmark("apply a batch of 500 changes to the catalogue", configuration: .init(maxIterations: 200)) { benchmark in
        for _ in benchmark.scaledIterations {
            let batch = catalogue.nextBatch()
            benchmark.startMeasurement()
            blackHole(try catalogue.store.apply(batch))
            benchmark.stopMeasurement()
        }
    }
}

/// A catalogue in a temporary directory and the batch applied to it, one revision higher each time.
private final class Catalogue: @unchecked Sendable {
    let store: CatalogueStore
    private var batch: [IncomingChange]
    private var seq: Int64 = 0

    init(changes: [IncomingChange]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jippnas-micro-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        store = try CatalogueStore(path: dir + "/catalogue.sqlite")
        batch = changes
    }

    func nextBatch() -> [IncomingChange] {
        for index in batch.indices {
            seq += 1
            batch[index].envelope.seq = seq
            batch[index].envelope.innovation.revision += 1
            batch[index].messageID = "micro-\(seq)"  // a new message, not a duplicate of the last batch
        }
        return batch
    }
}

/// A hub store whose every record has been published.
private final class Hub: @unchecked Sendable {
    let store: HubStore

    init(records: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jippnas-micro-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        store = try HubStore(path: dir + "/hub.sqlite", province: "35")
        _ = try store.importContents(Sample.contents(start: 0, count: records))
        try markAllPublished()
    }

    func markAllPublished() throws {
        while true {
            let pending = try store.pendingOutbox(after: 0, limit: 5_000)
            if pending.isEmpty { return }
            try store.markPublished(pending.map(\.seq))
        }
    }
}
