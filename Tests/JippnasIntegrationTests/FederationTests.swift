import Foundation
import JippnasAMQP
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

/// End-to-end behaviour on the real broker started by `scripts/test`, each test in its own vhost.
@Suite("Federation on a real broker", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct FederationTests {
    @Test("(a) three hubs × 200 innovations imported while the aggregator runs arrive exactly, at their latest revisions")
    func threeHubsConverge() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("converge")])
        let provinces = ["35", "33", "73"]
        let aggregator = try await f.startAggregator()
        let hubs = try provinces.map { try f.startHub($0) }
        for chunk in 0..<4 {
            for p in provinces {
                _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 50, start: 1 + chunk * 50))
            }
        }
        for p in provinces {  // a second revision for some, while the first ones are still flowing
            _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 30, titleSuffix: " (revisi)"))
        }
        let converged = try await eventually(timeout: .seconds(60)) { try f.catalogueTruth() == f.hubTruth(provinces) }
        for hub in hubs { await hub.stop() }
        await aggregator.stop()
        let difference = try f.hubTruth(provinces).symmetricDifference(f.catalogueTruth())
        #expect(converged, "catalogue differs from hubs: \(difference.prefix(5))")
        let stats = try f.catalogue().stats()
        #expect(stats.innovations == 600 && stats.live == 600)
        #expect(stats.historyRows == 690)
        #expect(try f.catalogue().duplicatedHistoryRows() == 0)
        #expect(try f.catalogue().entry(globalID: "35:t-35-7")?.innovation.title == "Inovasi Uji 35-7 (revisi)")
        for p in provinces { #expect(try f.hubStore(p).outboxStats().pending == 0) }
    }

    @Test("(b) updates and withdrawals propagate")
    func updatesAndWithdrawalsPropagate() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("updates")])
        let aggregator = try await f.startAggregator()
        let hub = try f.startHub("35")
        let store = try f.hubStore("35")
        _ = try store.importContents(SampleData.contents(province: "35", count: 10))
        #expect(try await eventually { try f.catalogueTruth().count == 10 })
        var changed = SampleData.contents(province: "35", count: 3)
        changed[0].stage = .penerapan
        changed[0].title = "Judul Sudah Diubah"
        _ = try store.importContents(changed)
        _ = try store.withdraw(id: "t-35-9")
        _ = try store.withdraw(id: "t-35-10")
        let converged = try await eventually { try f.catalogueTruth() == f.hubTruth(["35"]) }
        await hub.stop()
        await aggregator.stop()
        #expect(converged)
        let updated = try #require(try f.catalogue().entry(globalID: "35:t-35-1"))
        #expect(updated.innovation.title == "Judul Sudah Diubah" && updated.innovation.revision == 2)
        let withdrawn = try #require(try f.catalogue().entry(globalID: "35:t-35-9"))
        #expect(withdrawn.withdrawn && withdrawn.innovation.revision == 2)
        #expect(try f.catalogue().history(globalID: "35:t-35-9").map(\.event) == ["upsert", "withdraw"])
    }

    @Test("(c) the same message delivered twice changes nothing")
    func duplicateDeliveryChangesNothing() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("duplicate")])
        let aggregator = try await f.startAggregator()
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 1))
        let entry = try #require(try f.hubStore("35").pendingOutbox(after: 0, limit: 1).first)
        try f.publishRaw([(entry.routingKey, entry.body, entry.messageID), (entry.routingKey, entry.body, entry.messageID)])
        let settled = try await eventually { try f.catalogue().stats().hubs.first.map { $0.applied + $0.duplicates } == 2 }
        await aggregator.stop()
        #expect(settled)
        let hub = try #require(try f.catalogue().stats().hubs.first)
        #expect(hub.applied == 1 && hub.duplicates == 1)
        #expect(try f.catalogue().history(globalID: "35:t-35-1").count == 1)
    }

    @Test("(d) an older revision arriving after a newer one changes nothing")
    func olderRevisionAfterNewerIsStale() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("stale")])
        let aggregator = try await f.startAggregator()
        let store = try f.hubStore("35")
        _ = try store.importContents(SampleData.contents(province: "35", count: 1))
        _ = try store.importContents(SampleData.contents(province: "35", count: 1, titleSuffix: " baru"))
        let rows = try store.pendingOutbox(after: 0, limit: 10)
        try #require(rows.count == 2)
        try f.publishRaw([(rows[1].routingKey, rows[1].body, rows[1].messageID),
                          (rows[0].routingKey, rows[0].body, rows[0].messageID)])
        let settled = try await eventually { try f.catalogue().stats().hubs.first.map { $0.applied + $0.stale } == 2 }
        await aggregator.stop()
        #expect(settled)
        let entry = try #require(try f.catalogue().entry(globalID: "35:t-35-1"))
        #expect(entry.innovation.revision == 2 && entry.innovation.title.hasSuffix(" baru"))
        #expect(try f.catalogue().stats().hubs.first?.stale == 1)
    }

    @Test("(e) malformed and forged-province messages are dead-lettered with reasons; good ones after still arrive")
    func badMessagesAreDeadLettered() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("dead")])
        let aggregator = try await f.startAggregator()
        _ = try f.hubStore("33").importContents(SampleData.contents(province: "33", count: 1))
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 1))
        let jateng = try #require(try f.hubStore("33").pendingOutbox(after: 0, limit: 1).first)
        let jatim = try #require(try f.hubStore("35").pendingOutbox(after: 0, limit: 1).first)
        try f.publishRaw([
            ("35.innovation.upsert", Data("{\"schema\":1,\"hub\":".utf8), "bad-json"),
            ("35.innovation.upsert", jateng.body, "forged-province"),  // a 33 record under 35's key
            (jatim.routingKey, jatim.body, jatim.messageID),
        ])
        let arrived = try await eventually { try f.catalogue().entry(globalID: "35:t-35-1") != nil }
        let deadQueued = try await eventually { try f.queueDepth("jippnas.national.dead") == 2 }
        await aggregator.stop()
        #expect(arrived && deadQueued)
        let letters = try f.catalogue().deadLetters()
        #expect(Set(letters.map { "\($0.messageID ?? "-")=\($0.reason)" }) ==
                ["bad-json=malformed_json", "forged-province=province_mismatch"])
        #expect(letters.allSatisfy { $0.routingKey == "35.innovation.upsert" && !$0.bodyPrefix.isEmpty })
        #expect(try f.catalogue().entry(globalID: "33:t-33-1") == nil)
    }

    @Test("(f) a hub started while the broker is down delivers everything once it starts, and again after a restart")
    func hubSurvivesBrokerDownAtStartAndRestart() async throws {
        let brokerDir = TempDir("late-broker")
        let broker = "\(repositoryRoot)/scripts/broker"
        let port = try freePort()
        let url = try BrokerURL(parsing: "amqp://guest:guest@127.0.0.1:\(port)/")
        let f = Federation(urls: [url])
        let hub = try f.startHub("35")
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 50))
        try await Task.sleep(for: .seconds(1))
        #expect(try f.hubStore("35").outboxStats().pending == 50)
        try BrokerFixture.run([broker, "start", brokerDir.path, "\(port)"])
        defer { _ = try? BrokerFixture.run([broker, "stop", brokerDir.path]) }
        // The hub may connect before the national queue exists: its messages come back unroutable and are
        // published again later, never dropped.
        try await Task.sleep(for: .seconds(1))
        let aggregator = try await f.startAggregator()
        let first = try await eventually(timeout: .seconds(90)) { try f.catalogueTruth() == f.hubTruth(["35"]) }
        #expect(first)

        // The broker goes away under both daemons; changes made meanwhile wait in the outbox.
        try BrokerFixture.run([broker, "stop", brokerDir.path])
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 50, start: 51))
        _ = try f.hubStore("35").withdraw(id: "t-35-1")
        try await Task.sleep(for: .seconds(1))
        #expect(try f.hubStore("35").outboxStats().pending == 51)
        try BrokerFixture.run([broker, "restart", brokerDir.path])
        let second = try await eventually(timeout: .seconds(90)) { try f.catalogueTruth() == f.hubTruth(["35"]) }
        await hub.stop()
        await aggregator.stop()
        #expect(second)
        #expect(try f.catalogueTruth().count == 100)
        #expect(try f.hubStore("35").outboxStats().pending == 0)
        #expect(try f.catalogue().duplicatedHistoryRows() == 0)
    }

    @Test("(i) rows published but not confirmed before a hub crash are published again, and deduplicated")
    func unconfirmedRowsArePublishedAgainAfterACrash() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("crash")])
        let (aggregator, loop) = try await f.startAggregatorLoop()
        let store = try f.hubStore("35")
        _ = try store.importContents(SampleData.contents(province: "35", count: 30))
        // What a hub killed between publish and confirm leaves behind: the messages went out, the rows
        // were never marked published.
        let rows = try store.pendingOutbox(after: 0, limit: 100)
        try f.publishRaw(rows.map { ($0.routingKey, $0.body, $0.messageID) })
        #expect(try await eventually { aggregator.snapshot.applied == 30 })
        #expect(try store.outboxStats().pending == 30)
        let hub = try f.startHub("35")  // the restarted hub
        #expect(try await eventually { try store.outboxStats().pending == 0 })
        #expect(try await eventually { aggregator.snapshot.duplicates == 30 })
        await hub.stop()
        await loop.stop()
        #expect(try f.catalogueTruth() == f.hubTruth(["35"]))
        #expect(try f.catalogue().stats().historyRows == 30)
    }

    @Test("(h) unroutable messages (no national queue yet) stay pending and are retried, not dropped")
    func unroutableMessagesAreRetried() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("unroutable")])
        let (relay, hub) = try f.startHubRelay("75")
        _ = try f.hubStore("75").importContents(SampleData.contents(province: "75", count: 20))
        let returned = await eventually { relay.snapshot.returned > 0 }
        #expect(returned)
        #expect(try f.hubStore("75").outboxStats().pending == 20)
        let aggregator = try await f.startAggregator()
        let converged = try await eventually(timeout: .seconds(60)) { try f.catalogueTruth() == f.hubTruth(["75"]) }
        await hub.stop()
        await aggregator.stop()
        #expect(converged)
        #expect(try f.hubStore("75").outboxStats().pending == 0)
    }

    @Test("(g) changes published while the aggregator is stopped arrive when it starts")
    func aggregatorCatchesUpAfterDowntime() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("catchup")])
        let first = try await f.startAggregator()
        await first.stop()
        let hub = try f.startHub("73")
        _ = try f.hubStore("73").importContents(SampleData.contents(province: "73", count: 100))
        #expect(try await eventually { try f.hubStore("73").outboxStats().pending == 0 })
        #expect(try f.queueDepth("jippnas.national") >= 100)  // the changes, and the hub's checkpoints
        #expect(try f.catalogueTruth().isEmpty)
        let second = try await f.startAggregator()
        let converged = try await eventually { try f.catalogueTruth() == f.hubTruth(["73"]) }
        await hub.stop()
        await second.stop()
        #expect(converged)
        #expect(try f.queueDepth("jippnas.national") == 0)
    }
}
