import Foundation
import JippnasAMQP
import JippnasCore
import JippnasServices
import JippnasStore
import JippnasTestSupport
import Testing

/// The real `jippnas` daemons as systemd runs them: notifications, journal log lines, reload and stop.
@Suite("Daemons under a service manager", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct SystemdTests {
    @Test("READY, STATUS, WATCHDOG, journal priorities, SIGHUP reload (good and bad) and STOPPING")
    func aggregatorSpeaksToSystemd() async throws {
        let url = try BrokerFixture.isolatedURL("notify")
        let dir = TempDir("notify")
        let listener = try NotifyListener(path: dir.file("notify"))
        let config = dir.file("aggregator.yaml")
        try "log:\n  level: info\n".write(toFile: config, atomically: true, encoding: .utf8)
        let output = dir.file("stderr")
        close(open(output, O_WRONLY | O_CREAT, 0o644))
        var st = stat()
        stat(output, &st)
        let httpPort = try freePort()
        let daemon = try ChildProcess(
            [try ChildProcess.jippnasBinary(), "aggregator", "run", "--config", config, "--database", dir.file("c.sqlite")],
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000",
                          "JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)", "JIPPNAS_BROKER_URLS": "\(urlText(url))",
                          "JIPPNAS_HTTP_LISTEN": "127.0.0.1:\(httpPort)"],
            outputPath: output)
        #expect(await eventually { listener.messages().contains("READY=1") })
        #expect(await eventually { listener.messages().contains { $0.hasPrefix("STATUS=connected to amqp://guest:****@") } })
        #expect(await eventually { listener.messages().filter { $0 == "WATCHDOG=1" }.count >= 2 })
        #expect(daemon.output.contains("<6>starting "))
        let health = try httpGet(port: httpPort, path: "/healthz")
        #expect(health.status == 200 && health.body == "ok\n")
        let metrics = try httpGet(port: httpPort, path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("jippnas_aggregator_consumed_total"))
        #expect(metrics.body.contains("jippnas_aggregator_batch_commit_seconds_bucket"))
        #expect(!daemon.output.contains("guest:guest"))

        try "log:\n  level: debug\nconsumer:\n  batch_size: 64\n".write(toFile: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await eventually {
            daemon.output.contains("<5>configuration reloaded batch_max_wait_ms=50->50 batch_size=500->64 log_level=info->debug")
        })
        // The next SIGHUP once the first reload has finished (READY=1 again), as an operator's would come.
        #expect(await eventually { listener.messages().filter { $0 == "READY=1" }.count >= 2 })
        try "log:\n  level: loud\n".write(toFile: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await eventually(timeout: .seconds(40)) { daemon.output.contains("<3>reload refused; keeping the running settings") },
                "\(listener.messages())")
        #expect(daemon.output.contains("log.level: 'loud' is not one of"))
        #expect(listener.messages().filter { $0 == "RELOADING=1" }.count == 2)

        // Monitoring's view: healthy while it runs, unhealthy (exit 2) once it is gone.
        try "log:\n  level: info\n".write(toFile: config, atomically: true, encoding: .utf8)
        let statusArguments = [try ChildProcess.jippnasBinary(), "status", "--role", "aggregator", "--config", config,
                               "--database", dir.file("c.sqlite")]
        let environment = ["JIPPNAS_BROKER_URLS": urlText(url)]
        #expect(await eventually {  // the state file is rewritten every 2 s
            ((try? String(contentsOfFile: DaemonStatePath.of(dir.file("c.sqlite")), encoding: .utf8)) ?? "")
                .contains("\"connected\" : true")
        })
        let healthy = try ChildProcess(statusArguments, environment: environment, outputPath: dir.file("status-1"))
        #expect(await healthy.wait(timeout: .seconds(15)) == 0, "\(healthy.output)")
        #expect(healthy.output.contains("aggregator: healthy") && healthy.output.contains("queue_depth: 0"))

        daemon.signal(SIGTERM)
        let code = await daemon.wait(timeout: .seconds(15))
        #expect(code == 0)
        #expect(listener.messages().contains("STOPPING=1"))
        let stopped = try ChildProcess(statusArguments, environment: environment, outputPath: dir.file("status-2"))
        #expect(await stopped.wait(timeout: .seconds(15)) == 2, "\(stopped.output)")
        #expect(stopped.output.contains("is not running"))
    }

    @Test("the aggregator is READY with its catalogue open while no broker answers, and says so in its status")
    func aggregatorReadyWithoutBroker() async throws {
        let dir = TempDir("nobroker")
        let listener = try NotifyListener(path: dir.file("notify"))
        let daemon = try ChildProcess(
            [try ChildProcess.jippnasBinary(), "aggregator", "run", "--database", dir.file("c.sqlite"),
             "--broker", "amqp://guest:guest@127.0.0.1:1/"],
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"],
            outputPath: dir.file("stderr"))
        #expect(await eventually { listener.messages().contains("READY=1") })
        #expect(await eventually { listener.messages().contains { $0.hasPrefix("STATUS=cannot reach amqp://guest:****@127.0.0.1:1 ") } })
        #expect(await eventually { listener.messages().filter { $0 == "WATCHDOG=1" }.count >= 2 })
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(15)) == 0)
    }

    @Test("a refused aggregator names its own credential in the hint, not a hub's")
    func aggregatorRefusalHint() async throws {
        var refused = try BrokerFixture.isolatedURL("refused")
        refused.password = "not-the-password"
        let dir = TempDir("refused")
        let daemon = try ChildProcess(
            [try ChildProcess.jippnasBinary(), "aggregator", "run", "--database", dir.file("c.sqlite"),
             "--broker", urlText(refused)],
            outputPath: dir.file("stderr"))
        #expect(await eventually { daemon.output.contains("hint=") })
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(15)) == 0)
        let hint = daemon.output.split(separator: "\n").first { $0.contains("hint=") }.map(String.init) ?? ""
        #expect(hint.contains("aggregator_broker-password") && !hint.contains("outbox"), "\(hint)")
    }

    @Test("SIGTERM in the middle of a 5,000-message drain loses nothing and exits 0 within the grace period")
    func sigtermDuringDrainLosesNothing() async throws {
        let url = try BrokerFixture.isolatedURL("drain")
        let f = Federation(urls: [url])
        let setup = try AMQPConnection(url: url, heartbeat: 0)
        try Topology.declareNationalSide(setup)
        setup.close()
        // Fill the national queue with 5,000 changes while no aggregator runs. Small batches keep the drain
        // long enough (a thousand commits, each with its fsync) for SIGTERM to land in the middle of it.
        let store = try f.hubStore("35")
        _ = try store.importContents(SampleData.contents(province: "35", count: 5000))
        let hub = try f.startHub("35")
        #expect(try await eventually(timeout: .seconds(60)) { try store.outboxStats().pending == 0 })
        await hub.stop()

        let output = f.dir.file("aggregator.err")
        let daemon = try ChildProcess(
            [try ChildProcess.jippnasBinary(), "aggregator", "run", "--database", f.aggregatorSettings.database],
            environment: ["JIPPNAS_BROKER_URLS": urlText(url), "JIPPNAS_CONSUMER_BATCH_SIZE": "5",
                          "JIPPNAS_CONSUMER_PREFETCH": "10", "JIPPNAS_SHUTDOWN_GRACE_S": "10"],
            outputPath: output)
        #expect(try await eventually(timeout: .seconds(30), poll: .milliseconds(10)) {
            (try? f.catalogue().stats().innovations).map { $0 > 0 } ?? false
        })
        let stoppedAt = ContinuousClock.now
        daemon.signal(SIGTERM)
        let code = await daemon.wait(timeout: .seconds(12))
        let stopSeconds = ContinuousClock.now - stoppedAt
        #expect(code == 0, "\(daemon.output.suffix(2000))")
        #expect(stopSeconds < .seconds(10))
        let committed = try f.catalogue().stats().innovations
        #expect(committed > 0 && committed < 5000, "SIGTERM came after the drain finished (\(committed))")
        // Every message is either committed or still queued for the next start: nothing lost.
        let queued = try f.queueDepth("jippnas.national")
        #expect(Int(queued) + committed >= 5000)
        let (_, loop) = try await f.startAggregatorLoop()
        let all = try await eventually(timeout: .seconds(60)) { try f.catalogue().stats().innovations == 5000 }
        await loop.stop()
        #expect(all)
        #expect(try f.catalogue().duplicatedHistoryRows() == 0)
        #expect(try f.catalogueTruth() == f.hubTruth(["35"]))
    }

    enum DaemonStatePath {
        static func of(_ database: String) -> String { database + ".state" }
    }

    func urlText(_ url: BrokerURL) -> String {
        "amqp://\(url.user):\(url.password)@\(url.host):\(url.port)/\(url.vhost)"
    }
}
