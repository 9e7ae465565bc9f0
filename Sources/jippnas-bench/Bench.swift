import ArgumentParser
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTrust
import Logging

/// Measures the hub relay and the aggregator on a real broker, next to the bare wire rate of the same
/// AMQP connection code without any store, and prints the figures. It asserts nothing.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jippnas-bench",
        abstract: "Hub relay and aggregator throughput on a real broker (use a release build).")

    @Option(help: "Broker URL; the vhost should be empty (scripts/bench makes one).") var broker: String
    @Option(help: "Messages per run.") var messages = 20_000
    @Option(help: "Confirm window of the relay and the wire baseline.") var window = 1000
    @Option(help: "Working directory for the SQLite files.") var work: String = NSTemporaryDirectory()
    @Flag(help: "The relay signs every body (Ed25519) and the aggregator requires and verifies signatures and user-ids.")
    var signed = false

    func run() async throws {
        let url = try BrokerURL(parsing: broker)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let brokerSettings = BrokerSettings(urls: [url], heartbeat: 30)
        let dir = work + "/jippnas-bench-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let setup = try AMQPConnection(url: url)
        try Topology.declareNationalSide(setup)
        setup.close()

        // Hub relay: a full outbox → every row confirmed and marked published.
        let hubSettings = HubSettings(province: "35", database: dir + "/hub.sqlite", broker: brokerSettings,
                                      confirmWindow: window, batchSize: 1000)
        let store = try HubStore(path: hubSettings.database, province: "35")
        let contents = (0..<messages).map { n in
            InnovationContent(id: "b-\(n)", title: "Inovasi Benchmark \(n)", agency: "Dinas Kominfo Provinsi Jawa Timur",
                              region: "35.78", category: .tataKelolaPemerintahan, kind: .digital, stage: .penerapan,
                              summary: String(repeating: "Ringkasan inovasi pelayanan publik. ", count: 10))
        }
        _ = try store.importContents(contents)
        let bodyBytes = try store.pendingOutbox(after: 0, limit: 1).first?.body.count ?? 0
        let key = HubSigningKey.generate(province: "35")
        let relay = HubRelay(store: store, settings: hubSettings, logger: logger, signer: signed ? key : nil)
        let relaySeconds = try await timed(relay.service.run, until: { relay.snapshot.confirmed >= messages })
        print(String(format: "hub relay     %6d msgs  %6.2f s  %8.0f msg/s  (outbox → confirmed → marked published; body %d bytes, window %d%@)",
                     messages, relaySeconds, Double(messages) / relaySeconds, bodyBytes, window, signed ? ", signed" : ""))

        // Aggregator: the queue holds every message → all applied and committed.
        let aggregatorSettings = AggregatorSettings(database: dir + "/catalogue.sqlite", broker: brokerSettings)
        let catalogue = try CatalogueStore(path: aggregatorSettings.database)
        let policy = signed
            ? ProvenancePolicy(trust: TrustStore(directory: "bench", keys: [key.trusted]), requireSignatures: true, requireUserID: false)
            : ProvenancePolicy.open
        let aggregator = Aggregator(store: catalogue, settings: aggregatorSettings, logger: logger, provenance: policy)
        let aggregatorSeconds = try await timed(aggregator.service.run, until: { aggregator.snapshot.applied >= messages })
        print(String(format: "aggregator    %6d msgs  %6.2f s  %8.0f msg/s  (queue → validated → committed with history → acked; prefetch %d, batch %d%@)",
                     messages, aggregatorSeconds, Double(messages) / aggregatorSeconds, aggregatorSettings.prefetch,
                     aggregatorSettings.batchSize, signed ? ", signatures verified" : ""))

        // Wire baselines: the same bodies through the same AMQP code, no SQLite at either end.
        let bodies = try store.pendingOutbox(after: 0, limit: 1).first.map { [$0.body] } ?? []
        let wirePublish = try wirePublishSeconds(url: url, body: bodies.first ?? Data(), count: messages)
        print(String(format: "wire publish  %6d msgs  %6.2f s  %8.0f msg/s  (publish with confirms, window %d, no store)",
                     messages, wirePublish, Double(messages) / wirePublish, window))
        let wireConsume = try wireConsumeSeconds(url: url, count: messages)
        print(String(format: "wire consume  %6d msgs  %6.2f s  %8.0f msg/s  (prefetch 1000, ack multiple every 250, no store)",
                     messages, wireConsume, Double(messages) / wireConsume))
        print(String(format: "ratios        relay/wire publish %.2f   aggregator/wire consume %.2f",
                     wirePublish / relaySeconds, wireConsume / aggregatorSeconds))
    }

    /// Runs a service until `done` holds, then cancels it; returns the seconds taken.
    func timed(_ body: @escaping @Sendable () async throws -> Void, until done: @escaping @Sendable () -> Bool) async throws
        -> Double
    {
        let start = ContinuousClock.now
        let task = Task { try await body() }
        while !done() { try await Task.sleep(for: .milliseconds(5)) }
        let elapsed = ContinuousClock.now - start
        task.cancel()
        _ = try? await task.value
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    func wirePublishSeconds(url: BrokerURL, body: Data, count: Int) throws -> Double {
        let connection = try AMQPConnection(url: url)
        defer { connection.close() }
        try connection.declareQueue("bench.wire")
        try connection.bindQueue("bench.wire", exchange: WireNames.innovationExchange, pattern: "bench.#")
        try connection.enableConfirms()
        let start = ContinuousClock.now
        var tracker = ConfirmTracker(window: window)
        var sent = 0, confirmed = 0
        while confirmed < count {
            while sent < count, tracker.hasRoom {
                try body.withUnsafeBytes { b in
                    try connection.publish(exchange: WireNames.innovationExchange, routingKey: "bench.wire", body: b,
                                           properties: PublishProperties(messageID: "m", type: "upsert", appID: "bench",
                                                                         timestamp: 0))
                }
                tracker.published(seq: Int64(sent), messageID: "m")
                sent += 1
            }
            if case .ack(let tag, let multiple)? = try connection.nextConfirmEvent(timeout: .milliseconds(100)) {
                confirmed += tracker.ack(tag: tag, multiple: multiple).confirmed.count
            }
        }
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    func wireConsumeSeconds(url: BrokerURL, count: Int) throws -> Double {
        let connection = try AMQPConnection(url: url)
        defer { connection.close() }
        try connection.setPrefetch(1000)
        try connection.startConsumer(queue: "bench.wire", consumerTag: "bench")
        let start = ContinuousClock.now
        var received = 0
        while received < count {
            guard let delivery = try connection.nextDelivery(timeout: .seconds(5)) else { break }
            received += 1
            if received % 250 == 0 || received == count { try connection.ack(delivery.deliveryTag, multiple: true) }
        }
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
