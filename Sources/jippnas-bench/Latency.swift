import Foundation
import GRDB
import Histogram
import JippnasCore
import JippnasStore

extension Scenarios {
    /// Hub and aggregator as processes; this process commits `rate` changes a second, one at a time, into the hub's
    /// store (what `jippnas hub import` does) and watches the catalogue for each row, so the figure runs
    /// from the hub's commit to the row being readable in the national catalogue.
    func endToEndLatency(seconds: Int, rate: Int) async throws -> Latency {
        let hubPath = dir + "/latency-hub-\(UUID().uuidString.prefix(6)).sqlite"
        let cataloguePath = dir + "/latency-catalogue-\(UUID().uuidString.prefix(6)).sqlite"
        let hub = try HubStore(path: hubPath, province: "35")
        _ = try CatalogueStore(path: cataloguePath)
        let environment = ["JIPPNAS_BROKER_URLS": brokerText]
        let aggregator = try Child(jippnas, ["aggregator", "run", "--database", cataloguePath], environment: environment,
                                   log: cataloguePath + ".log")
        let relay = try Child(jippnas, ["hub", "run", "--province", "35", "--database", hubPath], environment: environment,
                              log: hubPath + ".log")
        defer {
            relay.stop()
            aggregator.stop()
        }
        try await Task.sleep(for: .seconds(2))  // both connected and idle
        let total = seconds * rate
        let committed = CommitTimes(count: total)
        let watcher = Thread { watch(cataloguePath, committed: committed, total: total) }
        watcher.start()
        try Self.importSteadily(hub, total: total, rate: rate, committed: committed)
        var latency = await committed.waitForResult(timeout: .seconds(30))
        latency.lone = try await loneImports(hub, catalogue: cataloguePath)
        latency.hubCPU = relay.cpuSeconds.map { $0 / Double(seconds) }
        latency.aggregatorCPU = aggregator.cpuSeconds.map { $0 / Double(seconds) }
        if latency.samples < total {
            let outbox = try hub.outboxStats()
            let rows = try CatalogueStore(path: cataloguePath).innovationCount()
            FileHandle.standardError.write(Data("hub outbox pending \(outbox.pending) published \(outbox.published); catalogue rows \(rows)\n".utf8))
            for log in [hubPath + ".log", cataloguePath + ".log"] {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                FileHandle.standardError.write(Data("--- \(log) (last lines)\n\(text.split(separator: "\n").suffix(8).joined(separator: "\n"))\n".utf8))
            }
        }
        return latency
    }

    /// Twenty single changes a quarter of a second apart, each on a quiet federation: the case of an
    /// operator importing one record. Returns the median and the longest, in milliseconds.
    private func loneImports(_ hub: HubStore, catalogue path: String) async throws -> (p50: Double, max: Double) {
        let catalogue = try CatalogueStore(path: path)
        var samples: [Double] = []
        for n in 0..<20 {
            try await Task.sleep(for: .milliseconds(250))
            let id = "lone-\(n)"
            var content = Workload.contents(province: "35", count: 1)[0]
            content.id = id
            _ = try hub.importContents([content])
            let committed = ContinuousClock.now
            while try catalogue.entry(globalID: "35:" + id) == nil {
                try await Task.sleep(for: .microseconds(500))
                if ContinuousClock.now - committed > .seconds(5) { break }
            }
            samples.append((ContinuousClock.now - committed).seconds * 1000)
        }
        samples.sort()
        return (samples[samples.count / 2], samples.last ?? .nan)
    }

    /// `rate` changes a second, each its own transaction, as separate `jippnas hub import` runs would.
    private static func importSteadily(_ hub: HubStore, total: Int, rate: Int, committed: CommitTimes) throws {
        let start = ContinuousClock.now
        for n in 0..<total {
            let due = start + .microseconds(n * 1_000_000 / rate)
            if due > .now { Thread.sleep(forTimeInterval: (due - .now).seconds) }
            _ = try hub.importContents(Workload.contents(province: "35", count: 1, start: 1_000_000 + n))
            committed.set(n, ContinuousClock.now)
        }
    }

    /// Notes when each row first becomes readable in the catalogue. A row can be seen before the importer
    /// has noted its commit (the importer thread may be descheduled), so latencies are computed at the end.
    private func watch(_ path: String, committed: CommitTimes, total: Int) {
        let db: DatabaseQueue
        do {
            db = try DatabaseQueue(path: path)
        } catch {
            FileHandle.standardError.write(Data("cannot watch the catalogue: \(error)\n".utf8))
            committed.finish(Latency(samples: 0, p50: .nan, p99: .nan, max: .nan))
            return
        }
        var seenAt = [ContinuousClock.Instant?](repeating: nil, count: total)
        var lastRowID: Int64 = 0, seen = 0
        let deadline = ContinuousClock.now + .seconds(Int64(total / 100 + 60))
        while seen < total, ContinuousClock.now < deadline {
            let rows = (try? db.read { db in
                try Row.fetchAll(db, sql: "SELECT rowid, id FROM innovation WHERE rowid > ? ORDER BY rowid", arguments: [lastRowID])
            }) ?? []
            let now = ContinuousClock.now
            for row in rows {
                lastRowID = row[0]
                let id: String = row[1]
                guard let n = Int(id.dropFirst(2)).map({ $0 - 1_000_000 }), n >= 0, n < total, seenAt[n] == nil else { continue }
                seenAt[n] = now
                seen += 1
            }
            Thread.sleep(forTimeInterval: 0.001)
        }
        committed.finish(Self.latency(seenAt: seenAt, committed: committed))
    }

    private static func latency(seenAt: [ContinuousClock.Instant?], committed: CommitTimes) -> Latency {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var samples = 0
        for (n, seen) in seenAt.enumerated() {
            guard let seen, let at = committed.get(n) else { continue }
            _ = histogram.record(UInt64(max(0, (seen - at).seconds * 1_000_000)))
            samples += 1
        }
        return Latency(samples: samples, p50: Double(histogram.valueAtPercentile(50)) / 1000,
                       p99: Double(histogram.valueAtPercentile(99)) / 1000, max: Double(histogram.max) / 1000)
    }
}

/// When each change was committed at the hub, shared by the importer and the watcher.
final class CommitTimes: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [ContinuousClock.Instant?]
    private var result: Latency?

    init(count: Int) { times = Array(repeating: nil, count: count) }

    func set(_ n: Int, _ at: ContinuousClock.Instant) { lock.withLock { times[n] = at } }
    func get(_ n: Int) -> ContinuousClock.Instant? { lock.withLock { n >= 0 && n < times.count ? times[n] : nil } }
    func finish(_ latency: Latency) { lock.withLock { result = latency } }

    func waitForResult(timeout: Duration) async -> Latency {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let result = lock.withLock({ result }) { return result }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return Latency(samples: 0, p50: .nan, p99: .nan, max: .nan)
    }
}
