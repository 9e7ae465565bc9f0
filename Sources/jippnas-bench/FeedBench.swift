import ArgumentParser
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import Logging

/// A hub's mirror catching up with the national catalogue after a day offline: the mirror follows the
/// feed, is stopped, the national catalogue takes `--changes` changes (the aggregator's commits, made
/// here directly on its store) which the feed publisher publishes, and the mirror is started again and
/// timed until it equals the national catalogue. Prints figures; asserts nothing.
struct FeedBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Mirror catch-up after a day offline (the national feed).")

    @Option(help: "Broker URL of an empty vhost; it gets -feed-<n> appended.") var broker: String
    @Option(help: "National changes made while the mirror is stopped.") var changes = 100_000
    @Option(help: "Records the mirror holds before it stops.") var initial = 1_000
    @Option(help: "Runs; each prints its figures.") var runs = 1
    @Option(help: "Working directory for SQLite files.") var work: String = NSTemporaryDirectory()

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        for run in 1...runs {
            let dir = work + "/jippnas-feed-bench-\(UUID().uuidString.prefix(6))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let url = try BrokerURL(parsing: broker.hasSuffix("/") ? broker + "feed-\(run)" : broker + "-feed-\(run)")
            let figures = try await catchUp(url: url, dir: dir, logger: logger)
            print(String(format: "run %d: %d national changes published by the feed in %.1f s (%.0f msg/s); mirror caught up in %.1f s (%.0f msg/s), %d records, digest equal",
                         run, changes, figures.publish, Double(changes) / figures.publish, figures.catchUp,
                         Double(changes) / figures.catchUp, figures.records))
        }
    }

    struct Figures {
        var publish: Double
        var catchUp: Double
        var records: Int
    }

    func catchUp(url: BrokerURL, dir: String, logger: Logger) async throws -> Figures {
        let broker = BrokerSettings(urls: [url], heartbeat: 30, timeout: .seconds(10))
        let national = try CatalogueStore(path: dir + "/national.sqlite")
        var mirrorSettings = AggregatorSettings(database: dir + "/mirror.sqlite", broker: broker)
        mirrorSettings.source = .stream(start: .first)
        mirrorSettings.broker.declareTopology = false
        _ = try national.startFeed()
        let feed = FeedPublisher(store: national, broker: broker, topology: NationalTopology(), logger: logger)
        let feedTask = Task { try await feed.service.run() }
        defer { feedTask.cancel() }

        // The mirror follows the first records, then stops.
        try commit(national, from: 0, count: initial)
        try await waitFor { feed.snapshot.publishedSeq > 0 && (try? national.feedChanges(after: feed.snapshot.publishedSeq, limit: 1).isEmpty) == true }
        let mirrorStore = try CatalogueStore(path: mirrorSettings.database)
        var mirror = CatalogueMirror(store: mirrorStore, settings: mirrorSettings, logger: logger)
        try await follow(mirror, national: national, feed: feed)

        // A day offline: the national catalogue changes, the feed publishes.
        let published = ContinuousClock.now
        try commit(national, from: initial, count: changes)
        try await waitFor(timeout: .seconds(1800)) {
            (try? national.feedChanges(after: feed.snapshot.publishedSeq, limit: 1).isEmpty) == true
        }
        let publish = (ContinuousClock.now - published).seconds

        // Back online.
        mirror = CatalogueMirror(store: mirrorStore, settings: mirrorSettings, logger: logger)
        let started = ContinuousClock.now
        try await follow(mirror, national: national, feed: feed)
        let records = try mirrorStore.mirrorCheckpoint().records
        return Figures(publish: publish, catchUp: (ContinuousClock.now - started).seconds, records: records)
    }

    /// Runs the mirror until it stands where the feed is and its digest equals the national one.
    func follow(_ mirror: CatalogueMirror, national: CatalogueStore, feed: FeedPublisher) async throws {
        let task = Task { try await mirror.service.run() }
        try await waitFor(timeout: .seconds(1800)) {
            guard mirror.snapshot.lastSeq == feed.snapshot.publishedSeq, mirror.snapshot.mode == "following",
                  let mine = try? mirror.store.mirrorCheckpoint(),
                  let theirs = try? national.feedCheckpointIfQuiescent(published: feed.snapshot.publishedSeq) else { return false }
            return mine.digest == theirs.digest && mine.records == theirs.records
        }
        task.cancel()
        _ = try? await task.value
    }

    /// `count` new records applied to the national catalogue in batches of 500, as the aggregator commits.
    func commit(_ store: CatalogueStore, from start: Int, count: Int) throws {
        var seq = Int64(start)
        for batch in stride(from: start, to: start + count, by: 500) {
            let contents = Workload.contents(province: "35", count: min(500, start + count - batch), start: batch)
            let changes = contents.map { content -> IncomingChange in
                seq += 1
                let envelope = Envelope(hub: "35", seq: seq, event: .upsert, sentAt: Timestamp.now(),
                                        innovation: content.innovation(revision: 1, updatedAt: Timestamp.now()))
                return IncomingChange(envelope: envelope, messageID: UUID().uuidString, routingKey: envelope.routingKey,
                                      body: EnvelopeCodec.encode(envelope))
            }
            _ = try store.apply(changes)
        }
    }

    func waitFor(timeout: Duration = .seconds(120), _ condition: @escaping @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw BenchError("timed out") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
