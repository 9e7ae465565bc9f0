import Foundation
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTestSupport
import Testing

/// Log timestamps (`2026-11-30T03:48:29.909Z`).
enum ISO8601Format {
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

/// Links that fail silently, through `scripts/fault-proxy`: the real daemons, a real broker, heartbeat 2 s.
@Suite("Half-open links through a fault proxy", .serialized)
struct NetworkFaultTests {
    let dir = TempDir("netfault")
    let binary: String
    static let heartbeat = 2

    init() throws { binary = try ChildProcess.jippnasBinary() }

    func environment(urls: [BrokerURL]) -> [String: String] {
        // description hides the password; the daemon needs it.
        ["JIPPNAS_BROKER_URLS": urls.map { $0.description.replacingOccurrences(of: ":****@", with: ":\($0.password)@") }
            .joined(separator: ","), "JIPPNAS_BROKER_HEARTBEAT": "\(Self.heartbeat)",
         "JIPPNAS_BROKER_TIMEOUT_S": "2", "JIPPNAS_RELAY_CHECKPOINT_INTERVAL_S": "1", "JIPPNAS_RECONCILE_GAP_TIMEOUT_S": "3",
         "JIPPNAS_RECONCILE_MIN_INTERVAL_S": "3", "JIPPNAS_LOG_LEVEL": "info"]
    }

    func hubRecords(_ database: String) throws -> Set<RecordKey> {
        Set(try HubStore(path: database, province: "35").records().map {
            RecordKey(globalID: "35:" + $0.innovation.id, revision: $0.innovation.revision, withdrawn: $0.withdrawn)
        })
    }

    func catalogueRecords(_ database: String) -> Set<RecordKey> {
        Set(((try? CatalogueStore(path: database).list(hub: "35")) ?? []).map {
            RecordKey(globalID: $0.globalID, revision: $0.innovation.revision, withdrawn: $0.withdrawn)
        })
    }

    /// When the first log line containing `text` was written.
    func loggedAt(_ text: String, in process: ChildProcess) -> Date? {
        guard let line = process.output.split(separator: "\n").first(where: { $0.contains(text) }) else { return nil }
        return ISO8601Format.date(String(line.prefix(while: { $0 != " " })))
    }

    /// Lines with `text`; for the aggregator, those of its consumer (its feed publisher has a connection of its own).
    func count(_ text: String, in process: ChildProcess, role: String? = nil) -> Int {
        process.output.split(separator: "\n").filter { line in
            line.contains(text) && (role.map { line.contains("role=\($0)") } ?? true)
        }.count
    }

    @Test("a black-holed link: both daemons notice within 2×heartbeat+1 s and log it once; the aggregator reconnects when the link returns, the hub to its next URL; nothing made during the cut is lost")
    func blackHoledLink() async throws {
        let direct = try BrokerFixture.isolatedURL("blackhole")
        let proxy = try await FaultProxy(target: direct, logPath: dir.file("proxy.log"))
        let hubDatabase = dir.file("hub.sqlite"), catalogue = dir.file("catalogue.sqlite")
        let hubStore = try HubStore(path: hubDatabase, province: "35")
        _ = try hubStore.importContents(SampleData.contents(province: "35", count: 10))
        let aggregator = try ChildProcess([binary, "aggregator", "run", "--database", catalogue],
                                          environment: environment(urls: [proxy.url(for: direct)]), outputPath: dir.file("aggregator.log"))
        // The hub starts once the national queue exists: a publish returned unroutable before that pauses the
        // session and sends the hub on to its next URL, the direct one, which the cut would then never touch.
        #expect(await eventually(timeout: .seconds(30)) { count("consuming", in: aggregator, role: "aggregator") == 1 }, "\(aggregator.output)")
        let hub = try ChildProcess([binary, "hub", "run", "--province", "35", "--database", hubDatabase],
                                   environment: environment(urls: [proxy.url(for: direct), direct]), outputPath: dir.file("hub.log"))
        #expect(await eventually(timeout: .seconds(30)) { catalogueRecords(catalogue).count == 10 }, "\(hub.output)")

        let cut = Date()
        try proxy.command("blackhole")
        _ = try hubStore.importContents(SampleData.contents(province: "35", count: 5, start: 11))
        _ = try hubStore.withdraw(id: "t-35-3")
        let noticed = await eventually(timeout: .seconds(10)) {
            loggedAt("broker connection lost", in: hub) != nil && loggedAt("broker connection lost", in: aggregator) != nil
        }
        #expect(noticed, "hub:\n\(hub.output)\naggregator:\n\(aggregator.output)")
        let limit = Double(2 * Self.heartbeat + 1)
        for (name, process) in [("hub", hub), ("aggregator", aggregator)] {
            let lost = try #require(loggedAt("broker connection lost", in: process))
            #expect(lost.timeIntervalSince(cut) <= limit, "\(name) noticed after \(lost.timeIntervalSince(cut)) s")
            print("blackhole: \(name) noticed the cut after \(String(format: "%.2f", lost.timeIntervalSince(cut))) s (limit \(limit) s)")
        }
        // The hub goes on to its second URL while the first stays cut, and publishes there.
        #expect(await eventually(timeout: .seconds(15)) { hub.output.contains("connected to broker broker=\(direct)") }, "\(hub.output)")
        #expect(await eventually(timeout: .seconds(10)) { (try? hubStore.outboxStats().pending) == 0 }, "\(hub.output)")

        let restored = Date()
        try proxy.command("pass")
        #expect(await eventually(timeout: .seconds(15)) { count("connected to broker", in: aggregator, role: "aggregator") >= 2 }, "\(aggregator.output)")
        let reconnected = aggregator.output.split(separator: "\n").last { $0.contains("connected to broker") && $0.contains("role=aggregator") }.flatMap { line in
            ISO8601Format.date(String(line.prefix(while: { $0 != " " })))
        }
        // A connect attempt begun during the cut is reset when the link returns; the next one follows a backoff.
        print("blackhole: the aggregator reconnected \(String(format: "%.2f", reconnected?.timeIntervalSince(restored) ?? -1)) s after the link returned")
        #expect((reconnected?.timeIntervalSince(restored) ?? .infinity) < 10, "reconnected \(String(describing: reconnected)) after the link returned at \(restored)")
        _ = try hubStore.importContents(SampleData.contents(province: "35", count: 2, start: 16))
        #expect(await eventually(timeout: .seconds(20)) { catalogueRecords(catalogue) == (try? hubRecords(hubDatabase)) })
        #expect(count("broker connection lost", in: hub) == 1 && count("broker connection lost", in: aggregator, role: "aggregator") == 1,
                "one loss, one line:\n\(hub.output)\n\(aggregator.output)")
        hub.signal(SIGTERM)
        aggregator.signal(SIGTERM)
        _ = await hub.wait(timeout: .seconds(20))
        _ = await aggregator.wait(timeout: .seconds(20))
        await proxy.stop()
    }

    @Test("a publish in flight when the broker's replies stop is published again after the reconnect and deduplicated")
    func inFlightPublishIsRepublished() async throws {
        let direct = try BrokerFixture.isolatedURL("oneway")
        let proxy = try await FaultProxy(target: direct, logPath: dir.file("proxy.log"))
        let hubDatabase = dir.file("hub.sqlite"), catalogue = dir.file("catalogue.sqlite")
        let hubStore = try HubStore(path: hubDatabase, province: "35")
        _ = try hubStore.importContents(SampleData.contents(province: "35", count: 1))
        let aggregator = try ChildProcess([binary, "aggregator", "run", "--database", catalogue],
                                          environment: environment(urls: [direct]), outputPath: dir.file("aggregator.log"))
        let hub = try ChildProcess([binary, "hub", "run", "--province", "35", "--database", hubDatabase],
                                   environment: environment(urls: [proxy.url(for: direct)]), outputPath: dir.file("hub.log"))
        #expect(await eventually(timeout: .seconds(30)) { catalogueRecords(catalogue).count == 1 })

        try proxy.command("blackhole-replies")
        _ = try hubStore.importContents(SampleData.contents(province: "35", count: 5, start: 2))
        // The broker takes the publishes and the aggregator applies them; their confirms never reach the hub.
        #expect(await eventually(timeout: .seconds(15)) { catalogueRecords(catalogue).count == 6 })
        #expect(try hubStore.outboxStats().pending == 5)
        #expect(await eventually(timeout: .seconds(10)) { loggedAt("broker connection lost", in: hub) != nil }, "\(hub.output)")
        try proxy.command("pass")
        #expect(await eventually(timeout: .seconds(20)) { (try? hubStore.outboxStats().pending) == 0 }, "\(hub.output)")
        let duplicates = await eventually(timeout: .seconds(10)) {
            ((try? CatalogueStore(path: catalogue).stats().hubs.first { $0.hub == "35" }?.duplicates) ?? 0) >= 5
        }
        #expect(duplicates, "the five republished messages are recognised by message id")
        #expect(catalogueRecords(catalogue) == (try hubRecords(hubDatabase)))
        #expect(try CatalogueStore(path: catalogue).duplicatedHistoryRows() == 0)
        hub.signal(SIGTERM)
        aggregator.signal(SIGTERM)
        _ = await hub.wait(timeout: .seconds(20))
        _ = await aggregator.wait(timeout: .seconds(20))
        await proxy.stop()
    }
}
