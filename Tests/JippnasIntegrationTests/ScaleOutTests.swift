import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTestSupport
import Testing

/// Quorum queues, the history stream and mirrors built from it, on the real broker from `scripts/test`.
@Suite("Scale-out on RabbitMQ", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct ScaleOutTests {
    /// A broker user of `url`'s vhost with the impersonator tag, which moving messages needs (they keep
    /// their user-id).
    private func impersonator(_ url: BrokerURL) throws -> BrokerURL {
        let user = "mover-\(url.vhost)", password = UUID().uuidString
        try BrokerFixture.ctl(["add_user", user, password])
        try BrokerFixture.ctl(["set_user_tags", user, "impersonator"])
        try BrokerFixture.ctl(["set_permissions", "-p", url.vhost, user, ".*", ".*", ".*"])
        var mover = url
        mover.user = user
        mover.password = password
        return mover
    }

    private func queueTypes(_ vhost: String) throws -> [String: String] {
        let listing = try BrokerFixture.ctl(["list_queues", "-p", vhost, "name", "type"])
        var types: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: "\t").map(String.init)
            if fields.count == 2 { types[fields[0]] = fields[1] }
        }
        return types
    }

    @Test("quorum national and control queues with a delivery limit, the stream beside them; an old classic control queue is kept")
    func quorumAndStreamByDefault() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("quorum")])
        // Hub 33's control queue as a version before 0.2 declared it.
        let setup = try AMQPConnection(url: f.urls[0], heartbeat: 0, timeout: .seconds(5))
        try setup.declareQueue(WireNames.hubControlQueue(province: "33"))
        setup.close()
        let (aggregator, loop) = try await f.startAggregatorLoop()
        let hubs = try ["35", "33"].map { try f.startHub($0) }
        for p in ["35", "33"] { _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 5)) }
        let arrived = await eventually { aggregator.snapshot.applied == 10 }
        for hub in hubs { await hub.stop() }
        await loop.stop()
        #expect(arrived, "both hubs publish, the one with a classic control queue too")
        let types = try queueTypes(f.urls[0].vhost)
        #expect(types[WireNames.nationalQueue] == "quorum")
        #expect(types[WireNames.nationalDeadQueue] == "quorum")
        #expect(types[WireNames.historyStream] == "stream")
        #expect(types[WireNames.hubControlQueue(province: "35")] == "quorum")
        #expect(types[WireNames.hubControlQueue(province: "33")] == "classic")
        let arguments = try BrokerFixture.ctl(["list_queues", "-p", f.urls[0].vhost, "name", "arguments"])
        #expect(arguments.contains("x-delivery-limit") && arguments.contains("x-max-age"))
    }

    @Test("a classic national queue becomes quorum while hubs publish: nothing lost, misrouted or resynced")
    func classicQueueMigratesWithoutLoss() async throws {
        let url = try BrokerFixture.isolatedURL("migrate")
        let f = Federation(urls: [url])
        var classic = f.aggregatorSettings
        classic.topology.queueType = .classic
        let old = Aggregator(store: try f.catalogue(), settings: classic, logger: f.logger)
        let oldLoop = RunningLoop(name: "aggregator-classic") { old.run(until: $0) }
        #expect(await eventually { old.snapshot.connected })
        let hubs = try ["35", "33"].map { try f.startHub($0) }
        for p in ["35", "33"] { _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 150)) }
        #expect(await eventually { old.snapshot.applied >= 50 })
        await oldLoop.stop()
        #expect(try queueTypes(url.vhost)[WireNames.nationalQueue] == "classic")

        // Hubs keep publishing while the queue is migrated.
        let writer = Task.detached {
            for round in 0..<6 {
                for p in ["35", "33"] {
                    _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 50, titleSuffix: " r\(round)",
                                                                            start: 100 + round * 10))
                }
                try await Task.sleep(for: .milliseconds(150))
            }
        }
        var mover = f.broker
        mover.urls = [try impersonator(url)]
        let reports = try QueueMigration(broker: mover, topology: NationalTopology(), logger: f.logger).run()
        try await writer.value
        #expect(reports.map(\.queue) == [WireNames.nationalDeadQueue, WireNames.nationalQueue])
        #expect(reports.last?.migrated == true && (reports.last?.movedOut ?? 0) > 0)
        #expect(try queueTypes(url.vhost)[WireNames.nationalQueue] == "quorum")
        #expect(try queueTypes(url.vhost)[WireNames.nationalMigrationQueue] == nil)

        let (fresh, loop) = try await f.startAggregatorLoop()
        let converged = try await eventually(timeout: .seconds(60)) { try f.catalogueTruth() == f.hubTruth(["35", "33"]) }
        for hub in hubs { await hub.stop() }
        await loop.stop()
        #expect(converged)
        // Had a message been lost or arrived with the wrong routing key, the catalogue could only have
        // converged through a resync or with a dead letter.
        #expect(fresh.snapshot.resyncRequests == 0 && fresh.snapshot.deadLettered == 0)
        #expect(try f.catalogue().stats().deadLetters == 0)
        // A second run finds nothing to do.
        let again = try QueueMigration(broker: mover, topology: NationalTopology(), logger: f.logger).run()
        #expect(again.allSatisfy { !$0.migrated })
    }

    @Test("a mirror rebuilt from the stream while traffic flows equals the primary, and resumes at its offset")
    func mirrorFromStream() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("mirror")])
        let (primary, primaryLoop) = try await f.startAggregatorLoop()
        let hubs = try ["35", "33", "73"].map { try f.startHub($0) }
        for p in ["35", "33", "73"] { _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 100)) }
        try f.publishRaw([(routingKey: "35.innovation.upsert", body: Data("{not json".utf8), messageID: "hostile-1")])
        #expect(await eventually { primary.snapshot.applied >= 100 })

        // The mirror reaches the broker through a proxy that will cut its connection mid-way: what was
        // delivered but not acknowledged comes again, and must not be applied (or dead-lettered) twice.
        let proxy = try await FaultProxy(target: f.urls[0], logPath: f.dir.file("proxy.log"))
        var settings = f.aggregatorSettings
        settings.database = f.dir.file("mirror.sqlite")
        settings.source = .stream(start: .first)
        settings.broker.urls = [proxy.url(for: f.urls[0])]
        settings.batchMaxWait = .milliseconds(200)
        let mirrorStore = try CatalogueStore(path: settings.database)
        let mirror = Aggregator(store: mirrorStore, settings: settings, logger: f.logger)
        let mirrorLoop = RunningLoop(name: "mirror") { mirror.run(until: $0) }
        for p in ["35", "33", "73"] {
            _ = try f.hubStore(p).importContents(SampleData.contents(province: p, count: 60, titleSuffix: " (revisi)"))
        }
        #expect(await eventually { mirror.snapshot.applied >= 60 })
        try proxy.command("reset")
        #expect(await eventually { mirror.snapshot.applied >= 200 })
        await mirrorLoop.stop()
        #expect(mirror.snapshot.reconnects >= 1 && mirror.snapshot.duplicates == 0, "\(mirror.snapshot)")
        let stoppedAt = try #require(try mirrorStore.streamNextOffset(WireNames.historyStream))

        _ = try f.hubStore("73").withdraw(id: "t-73-5")
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 20, start: 500))
        let resumed = Aggregator(store: mirrorStore, settings: settings, logger: f.logger)
        let resumedLoop = RunningLoop(name: "mirror-resumed") { resumed.run(until: $0) }
        try f.publishRaw([(routingKey: "33.innovation.upsert", body: Data("[]".utf8), messageID: "hostile-2")])
        let equal = try await eventually(timeout: .seconds(60)) {
            try f.catalogueTruth() == f.hubTruth(["35", "33", "73"])
                && CatalogueDiff.compare(try f.catalogue(), mirrorStore).isEmpty
        }
        for hub in hubs { await hub.stop() }
        await resumedLoop.stop()
        await primaryLoop.stop()
        let diff = try CatalogueDiff.compare(try f.catalogue(), mirrorStore)
        #expect(equal, "\(diff)")
        // The restart read on from its stored offset: nothing applied before came again, and the two runs
        // together applied each revision once.
        #expect(resumed.snapshot.duplicates == 0 && resumed.snapshot.applied >= 21)
        #expect(mirror.snapshot.applied + resumed.snapshot.applied == (try mirrorStore.stats().historyRows))
        #expect(try mirrorStore.streamNextOffset(WireNames.historyStream)! > stoppedAt)
        // The hostile message is a dead letter in both, with the same reason.
        #expect(try mirrorStore.deadLetters().map(\.reason) == f.catalogue().deadLetters().map(\.reason))
        #expect(try mirrorStore.deadLetters().count == 2)
        // A refusal is settled with an ack: basic.reject on a stream would have closed the connection.
        #expect(resumed.snapshot.reconnects == 0)
        await proxy.stop()
    }
}
