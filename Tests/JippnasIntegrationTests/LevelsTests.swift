import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTestSupport
import JippnasTrust
import Testing

/// Issue 14 on the real broker, with the real `jippnas` binary: two kota hubs → Jawa Timur (35) → the
/// national aggregator, and Jawa Tengah (33) directly, all provisioned with per-level permissions and
/// signing keys.
@Suite("Levels: kabupaten/kota → provinsi → nasional", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct LevelsTests {
    @Test("three levels: every chain verified nationally, forged links refused with their reasons, a kota hub speaking for another refused by broker and province")
    func threeLevels() async throws {
        let site = try LevelsSite(label: "levels")
        defer { site.stop() }
        try await site.start()

        // Everything arrives: the provinces' own records and the kota hubs' through Jawa Timur.
        let expected = try site.expectedGlobalIDs()
        #expect(expected.contains("35.78:sby-e-health") && expected.contains("35.73:mlg-sambat-online"))
        let catalogue = try site.nationalCatalogue()
        #expect(await eventually(timeout: .seconds(60)) { (try? Set(catalogue.list().map(\.globalID))) == expected },
                "national catalogue: \((try? catalogue.list().map(\.globalID).sorted()) ?? [])\n\(site.logs())")

        // The chain as the national catalogue stores it: the body Jawa Timur signed, with Surabaya's link
        // inside, each signature verifying against the national trust store.
        let entry = try #require(try catalogue.entry(globalID: "35.78:sby-e-health"))
        #expect(entry.hub == "35" && entry.innovation.region == "35.78")
        let lastMessage = try #require(try catalogue.history(globalID: entry.globalID).last).messageID
        let row = try #require(try catalogue.accepted(after: 0, limit: 1000).first { $0.messageID == lastMessage })
        #expect(row.hub == "35" && row.keyID == site.keyIDs["35"])
        let stored = try EnvelopeCodec.decode(row.body, routingKey: "35.innovation.upsert", contentType: nil).get()
        #expect(stored.chain.map { $0.hub } == ["35.78"] && stored.chain[0].keyID == site.keyIDs["35.78"])
        let national = try TrustStore.load(directory: site.dir.file("trust-national"))
        #expect(Provenance.check(province: "35", userID: "hub-35", signature: row.signature, keyID: row.keyID, body: row.body,
                                 policy: ProvenancePolicy(trust: national, requireSignatures: true)) == nil)
        #expect(Provenance.checkChain(stored.chain, policy: ProvenancePolicy(trust: national, requireSignatures: true)) == nil)
        let shown = Subprocess.run([site.binary, "catalogue", "show", "--config", site.dir.file("aggregator.yaml"), "35.78:sby-e-health"])
        #expect(shown.output.contains("relayed") && shown.output.contains("35.78"), "\(shown.output)")

        // Jawa Timur's checkpoints cover its relayed records too: no digest mismatch, ever.
        #expect(await eventually(timeout: .seconds(30)) {
            (try? catalogue.hubStates().first { $0.hub == "35" }?.lastCheckpointAt) != nil
        })
        try await Task.sleep(for: .seconds(3))
        let reconciliations = try catalogue.reconciliations()
        #expect(reconciliations.filter { $0.hub == "35" && $0.reason == "digest_mismatch" }.isEmpty, "\(reconciliations)")

        // A withdrawal at Surabaya travels up both levels.
        let withdrawn = Subprocess.run([site.binary, "hub", "withdraw", "--config", site.dir.file("hub-35.78.yaml"), "sby-single-window"])
        #expect(withdrawn.status == 0, "\(withdrawn.output)")
        #expect(await eventually(timeout: .seconds(30)) { (try? catalogue.entry(globalID: "35.78:sby-single-window"))??.withdrawn == true })

        try await forgedLinksAreRefused(site, catalogue: catalogue)
        try await aKotaHubCannotSpeakForAnother(site)
        try await aRestoredKotaHubIsHeardAgain(site, catalogue: catalogue)
    }

    /// Surabaya's store restored from a backup goes back to lower revisions under a new epoch: Jawa Timur
    /// relays them and the national catalogue takes them, though Jawa Timur's own epoch never changed.
    func aRestoredKotaHubIsHeardAgain(_ site: LevelsSite, catalogue: CatalogueStore) async throws {
        let config = site.dir.file("hub-35.78.yaml")
        func edit(_ title: String) throws {
            let csv = site.dir.file("sby-restore.csv")
            try """
                kode_inovasi,nama_inovasi,instansi,kode_wilayah,kategori,jenis,tahapan,status
                sby-pulih,\(title),Dinas Komunikasi dan Informatika Kota Surabaya,35.78,kesehatan,digital,penerapan,aktif
                """.write(toFile: csv, atomically: true, encoding: .utf8)
            try BrokerFixture.run([site.binary, "hub", "import", "--config", config, csv])
        }
        func national() -> Innovation? { (try? catalogue.entry(globalID: "35.78:sby-pulih"))??.innovation }
        try edit("Layanan Pulih Satu")
        #expect(await eventually(timeout: .seconds(30)) { national()?.revision == 1 })
        try BrokerFixture.run([site.binary, "hub", "backup", "--config", config, site.dir.file("sby-backup.sqlite")])
        try edit("Layanan Pulih Dua")
        try edit("Layanan Pulih Tiga")
        #expect(await eventually(timeout: .seconds(30)) { national()?.revision == 3 })

        await site.stop("hub-35.78")
        try BrokerFixture.run([site.binary, "hub", "restore", "--config", config, site.dir.file("sby-backup.sqlite")])
        try site.launch("hub-35.78", ["hub", "run", "--config", config])
        try edit("Layanan Pulih Sesudah Pemulihan")
        #expect(await eventually(timeout: .seconds(30)) { national()?.title == "Layanan Pulih Sesudah Pemulihan" },
                "national: \(String(describing: national()))\n\(site.logs())")
        #expect(national()?.revision == 2, "revision 2 of the restored store replaces revision 3 of the one it left")
        #expect(site.output(of: "aggregator").contains("relayed hub store has a new epoch"), "\(site.output(of: "aggregator"))")

        // The province's operator asks Surabaya to publish everything again, as the hub's own broker user.
        let regional = try CatalogueStore(path: site.dir.file("regional-35.sqlite"), access: .readOnly)
        let asked = Subprocess.run([site.binary, "hub", "resync-regional", "--config", site.dir.file("hub-35.yaml"), "--hub", "35.78"])
        #expect(asked.status == 0 && asked.output.contains("resync requested from hub 35.78"), "\(asked.output)")
        #expect(await eventually(timeout: .seconds(30)) {
            ((try? regional.reconciliations()) ?? []).contains { $0.hub == "35.78" && $0.reason == "manual" && $0.completedAt != nil }
        }, "\((try? regional.reconciliations()) ?? [])")
        let refused = Subprocess.run([site.binary, "hub", "resync-regional", "--config", site.dir.file("hub-35.yaml"), "--hub", "33.74"])
        #expect(refused.status == 64 && refused.output.contains("33.74 is not below hub 35"), "\(refused.output)")

        // A kabupaten/kota store rebuilt without a backup is accepted by its province's operator, at the province.
        let accepted = Subprocess.run([site.binary, "aggregator", "accept-epoch", "--database", site.dir.file("regional-35.sqlite"),
                                       "--hub", "35.78", "--epoch", "sby-rebuilt", "--force"])
        #expect(accepted.status == 0 && accepted.output.contains("hub 35.78: epoch sby-rebuilt accepted"), "\(accepted.output)")
    }

    /// Jawa Timur's own credentials and key, but links it could not have had from below.
    func forgedLinksAreRefused(_ site: LevelsSite, catalogue: CatalogueStore) async throws {
        let jatim = try site.signingKey("35")
        let surabaya = try site.signingKey("35.78")
        let stranger = HubSigningKey.generate(province: "35.78")
        func kotaBody(_ id: String, title: String = "Inovasi Palsu Surabaya", seq: Int64 = 900) -> (Data, Innovation) {
            var content = SampleData.contents(province: "35", count: 1)[0]
            content.id = id
            content.title = title
            content.region = "35.78"
            let record = content.innovation(revision: 1, updatedAt: "2026-11-30T08:00:00Z")
            return (EnvelopeCodec.encode(Envelope(hub: "35.78", seq: seq, event: .upsert, sentAt: "2026-11-30T08:00:00Z",
                                                   innovation: record)), record)
        }
        func relayed(_ id: String, linkBody: Data, signer: HubSigningKey, record: Innovation) -> WireMessage {
            let link = ChainLink(hub: "35.78", seq: 900, messageID: "forged-link-\(id)", keyID: signer.keyID,
                                 signature: signer.sign(linkBody), body: linkBody)
            let body = EnvelopeCodec.encode(Envelope(hub: "35", seq: 9_000_000, event: .upsert, sentAt: "2026-11-30T08:00:00Z",
                                                     innovation: record, chain: [link]))
            return WireMessage(routingKey: "35.innovation.upsert", properties: PublishProperties(
                messageID: "forged-\(id)", type: "upsert", appID: "t", timestamp: 0, userID: "hub-35",
                headers: [(SignatureHeaders.signature, jatim.sign(body)), (SignatureHeaders.keyID, jatim.keyID)]), body: body)
        }
        let (unknownBody, unknownRecord) = kotaBody("forged-unknown-key")
        let (provinceBody, provinceRecord) = kotaBody("forged-by-province")
        let (genuineBody, genuineRecord) = kotaBody("forged-content")
        var altered = genuineRecord
        altered.title = "Judul Diubah di Provinsi"
        let (signedBody, signedRecord) = kotaBody("forged-body", seq: 901)
        let (otherBody, _) = kotaBody("forged-body", seq: 902)
        var badSignature = relayed("forged-body", linkBody: otherBody, signer: surabaya, record: signedRecord)
        // Surabaya's signature over one body, presented with another.
        let link = ChainLink(hub: "35.78", seq: 902, messageID: "l", keyID: surabaya.keyID, signature: surabaya.sign(signedBody),
                             body: otherBody)
        let tampered = EnvelopeCodec.encode(Envelope(hub: "35", seq: 9_000_001, event: .upsert, sentAt: "2026-11-30T08:00:00Z",
                                                     innovation: signedRecord, chain: [link]))
        badSignature.body = tampered
        badSignature.properties.headers = [(SignatureHeaders.signature, jatim.sign(tampered)), (SignatureHeaders.keyID, jatim.keyID)]
        try publishConfirmed([
            relayed("forged-unknown-key", linkBody: unknownBody, signer: stranger, record: unknownRecord),
            relayed("forged-by-province", linkBody: provinceBody, signer: jatim, record: provinceRecord),
            relayed("forged-content", linkBody: genuineBody, signer: surabaya, record: altered),
            badSignature,
        ], url: try site.url("hub-35"))
        let expected = ["forged-forged-unknown-key": "chain_unknown_key", "forged-forged-by-province": "chain_key_mismatch",
                        "forged-forged-content": "chain_content_mismatch", "forged-forged-body": "chain_bad_signature"]
        #expect(await eventually(timeout: .seconds(30)) {
            let letters = (try? catalogue.deadLetters()) ?? []
            return expected.allSatisfy { id, reason in letters.contains { $0.messageID == id && $0.reason == reason } }
        }, "\((try? catalogue.deadLetters().map { "\($0.messageID ?? "-") \($0.reason)" }) ?? [])")
        #expect(try catalogue.list().filter { $0.globalID.contains("forged") }.isEmpty)
    }

    /// Kota Surabaya's hub trying to publish for Kota Malang, or above its level.
    func aKotaHubCannotSpeakForAnother(_ site: LevelsSite) async throws {
        let surabaya = try site.signingKey("35.78")
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = "mlg-dari-surabaya"
        content.region = "35.73"
        let body = EnvelopeCodec.encode(Envelope(hub: "35.73", seq: 500, event: .upsert, sentAt: "2026-11-30T08:00:00Z",
                                                 innovation: content.innovation(revision: 1, updatedAt: "2026-11-30T08:00:00Z")))
        // The broker: topic permissions keep hub-35.78 to 35.78.*, and hub-35 to 35.innovation/35.hub.
        for (user, key) in [("hub-35.78", "35.73.innovation.upsert"), ("hub-35.78", "35.innovation.upsert"),
                            ("hub-35", "35.78.innovation.upsert")] {
            let refusal = try site.publishExpectingRefusal(user: user, routingKey: key, body: body)
            #expect(refusal?.accessRefused == true, "\(user) → \(key): \(String(describing: refusal))")
        }
        // The province: a publisher the broker lets set any user-id (an impersonator) gets past the broker,
        // and Jawa Timur's relaying role refuses it by user-id and by key.
        let impersonator = try site.impersonator()
        func message(_ id: String, user: String) -> WireMessage {
            WireMessage(routingKey: "35.73.innovation.upsert", properties: PublishProperties(
                messageID: id, type: "upsert", appID: "t", timestamp: 0, userID: user,
                headers: [(SignatureHeaders.signature, surabaya.sign(body)), (SignatureHeaders.keyID, surabaya.keyID)]), body: body)
        }
        try publishConfirmed([message("as-malang-user-surabaya", user: "hub-35.78"), message("as-malang-key-surabaya", user: "hub-35.73")],
                             url: impersonator)
        let regional = try CatalogueStore(path: site.dir.file("regional-35.sqlite"), access: .readOnly)
        #expect(await eventually(timeout: .seconds(30)) {
            let letters = (try? regional.deadLetters()) ?? []
            return letters.contains { $0.messageID == "as-malang-user-surabaya" && $0.reason == "user_id_mismatch" }
                && letters.contains { $0.messageID == "as-malang-key-surabaya" && $0.reason == "signing_key_province_mismatch" }
        }, "\((try? regional.deadLetters().map { "\($0.messageID ?? "-") \($0.reason)" }) ?? [])")
        // Queue statistics lag behind (quorum queues report them every few seconds).
        #expect(await eventually(timeout: .seconds(30)) {
            (try? site.queueDepth(WireNames.regionalDeadQueue(province: "35"))) == 2
                && (try? site.queueDepth(WireNames.nationalDeadQueue)) == 4
        }, "the province's refusals in its own dead-letter queue, only the four forged chains in the national one")
        #expect(try regional.entry(globalID: "35.73:mlg-dari-surabaya") == nil)
    }

    @Test("a hub's mirror follows the national feed, catches up after being stopped, repairs itself from a snapshot, and its user reads nothing else")
    func mirrorAtAHub() async throws {
        let site = try LevelsSite(label: "mirror")
        defer { site.stop() }
        try await site.start()
        let catalogue = try site.nationalCatalogue()
        let expected = try site.expectedGlobalIDs()
        #expect(await eventually(timeout: .seconds(60)) { (try? Set(catalogue.list().map(\.globalID))) == expected })

        // Jawa Tengah's mirror, logged in as hub-33.
        let port = try freePort()
        let config = try site.writeMirrorConfig(hub: "33", port: port)
        let mirrorDB = site.dir.file("mirror-33.sqlite")
        func inStep() -> Bool {
            Subprocess.run([site.binary, "catalogue", "diff", site.dir.file("catalogue.sqlite"), mirrorDB]).status == 0
        }
        try site.launch("mirror-33", ["mirror", "run", "--config", config])
        #expect(await eventually(timeout: .seconds(60)) { inStep() }, "\(site.logs())")

        // Stopped for a while: Surabaya publishes a new innovation, Jawa Tengah replicates it, Jawa Timur withdraws one.
        await site.stop("mirror-33")
        try """
            kode_inovasi,nama_inovasi,instansi,kode_wilayah,kategori,jenis,tahapan,status
            sby-kampung-pangan,Kampung Pangan Surabaya,Dinas Ketahanan Pangan Kota Surabaya,35.78,ketahanan pangan,non digital,uji coba,aktif
            """.write(toFile: site.dir.file("sby-new.csv"), atomically: true, encoding: .utf8)
        try BrokerFixture.run([site.binary, "hub", "import", "--config", site.dir.file("hub-35.78.yaml"), site.dir.file("sby-new.csv")])
        try #"{"id":"smg-e-health","title":"E-Health Semarang","agency":"Dinas Kesehatan Kota Semarang","region":"33.74","category":"kesehatan","kind":"digital","stage":"uji_coba","status":"active","replicates":"35.78:sby-e-health"}"#
            .write(toFile: site.dir.file("smg.ndjson"), atomically: true, encoding: .utf8)
        try BrokerFixture.run([site.binary, "hub", "import", "--config", site.dir.file("hub-33.yaml"), site.dir.file("smg.ndjson")])
        try BrokerFixture.run([site.binary, "hub", "withdraw", "--config", site.dir.file("hub-35.yaml"), "sw-surabaya-sapa-warga"])
        #expect(await eventually(timeout: .seconds(30)) {
            (try? catalogue.entry(globalID: "33:smg-e-health")) != nil && (try? catalogue.entry(globalID: "35.78:sby-kampung-pangan")) != nil
                && (try? catalogue.entry(globalID: "35:sw-surabaya-sapa-warga"))??.withdrawn == true
        })
        #expect(!inStep(), "the mirror is behind while stopped")

        // Started again: it goes on from its place in the stream and is equal again.
        let started = ContinuousClock.now
        try site.launch("mirror-33", ["mirror", "run", "--config", config])
        #expect(await eventually(timeout: .seconds(60)) { inStep() }, "\(site.logs())")
        let caughtUp = ContinuousClock.now - started
        #expect(caughtUp < .seconds(60))

        // The same API as the national node, served from the copy: Surabaya's innovation, by way of Jawa Timur.
        let api = try httpGet(port: port, path: "/api/v1/innovations/35.78:sby-kampung-pangan")
        #expect(api.status == 200 && api.body.contains("Kampung Pangan Surabaya"), "\(api.body)")
        let page = try httpGet(port: port, path: "/?q=E-Health")
        #expect(page.status == 200 && page.body.contains("E-Health Semarang") && page.body.contains("E-Health Surabaya"))
        // Replication as a first-class act: who replicated it, where, at what stage; and the rankings.
        #expect(page.body.contains("Paling banyak direplikasi") && page.body.contains("Jawa Tengah: 1"), "\(page.body)")
        let detail = try httpGet(port: port, path: "/inovasi/35.78:sby-e-health")
        #expect(detail.body.contains("E-Health Semarang") && detail.body.contains("(33.74, Uji coba)"), "\(detail.body)")
        #expect(detail.body.contains("diterbitkan oleh <strong>35.78</strong>") && detail.body.contains("diteruskan oleh <strong>35</strong>"))
        let stats = try httpGet(port: port, path: "/api/v1/stats")
        #expect(stats.body.contains(#""replicating_provinces":[{"count":1,"key":"33""#) || stats.body.contains(#""key":"33""#), "\(stats.body)")

        // Damaged behind its back: the next checkpoint disagrees and it reads the feed again from the snapshot.
        await site.stop("mirror-33")
        try BrokerFixture.run(["sqlite3", mirrorDB, "DELETE FROM innovation WHERE global_id = '35.78:sby-e-health'"])
        try site.launch("mirror-33", ["mirror", "run", "--config", config])
        #expect(await eventually(timeout: .seconds(60)) { inStep() }, "\(site.logs())")
        #expect(try String(contentsOfFile: site.dir.file("mirror-33.log"), encoding: .utf8).contains("the mirror differs from the national checkpoint"))
        let status = Subprocess.run([site.binary, "mirror", "status", "--config", config])
        #expect(status.status == 0 && status.output.contains("mode following"), "\(status.output)")

        // The hub's user may read the feed and nothing more of the national side.
        let hub33 = try site.url("hub-33")
        let connection = try AMQPConnection(url: hub33, heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        #expect(throws: AMQPError.self) { try connection.startConsumer(queue: WireNames.nationalQueue, consumerTag: "x") }
        let refused = try site.publishExpectingRefusal(user: "hub-33", exchange: NationalFeed.exchange, routingKey: "record", body: Data("{}".utf8))
        #expect(refused?.accessRefused == true, "\(String(describing: refused))")
    }
}
