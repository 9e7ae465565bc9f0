import ArgumentParser
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Health of a hub or aggregator daemon, for operators and monitoring.",
        discussion: """
            Hub: whether the daemon runs and is connected, outbox depth, age of the oldest unpublished row, \
            last confirm. Aggregator: whether the daemon runs and is connected, national and dead-letter queue \
            depths (asked of the broker), and per hub the last message, highest seq, lag, records, open gap and \
            last reconciliation. Reads the daemon's state file (<database>.state, written every 2 s). \
            Exit codes: 0 healthy; 2 unhealthy (each reason printed); 64 configuration error; 1 cannot read.
            """)

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case hub, aggregator
    }

    @Option(name: .long, help: "hub or aggregator.") var role: Role
    @OptionGroup var common: ConfigOptions
    @Option(name: .long, help: "The hub's province code (role hub; overrides 'province').") var province: String?
    @Option(name: .long, help: "A daemon state older than this many seconds counts as stuck.") var maxStateAge = 30.0
    @Option(name: .long, help: "Hub: an unpublished row older than this many seconds is unhealthy.") var maxOutboxAge = 300.0
    @Option(name: .long, help: "Aggregator: more ready messages than this in the national queue is unhealthy.") var maxQueue = 100_000
    @Flag(name: .long, help: "Print JSON.") var json = false

    struct Report: Encodable {
        var role: String
        var healthy: Bool
        var problems: [String]
        var facts: [String: String]
        var hubs: [[String: String]]?
    }

    func run() async throws {
        var report: Report
        switch role {
        case .hub: report = try await hubReport()
        case .aggregator: report = try await aggregatorReport()
        }
        report.healthy = report.problems.isEmpty
        if json {
            try printJSON(report)
        } else {
            print("\(report.role): \(report.healthy ? "healthy" : "UNHEALTHY")")
            for key in report.facts.keys.sorted() { print("  \(key): \(report.facts[key]!)") }
            if let hubs = report.hubs, !hubs.isEmpty {
                print("")
                let columns = ["hub", "records", "highest_seq", "gap_from", "last_message", "lag_s", "last_reconciliation"]
                printTable(columns.map { $0.uppercased() }, hubs.map { hub in columns.map { hub[$0] ?? "-" } })
            }
            for problem in report.problems { print("problem: \(problem)") }
        }
        if !report.healthy { throw ExitCode(2) }
    }

    /// Problems with the daemon's own state file.
    func daemonProblems<C>(_ state: DaemonState<C>?, connected: Bool?) -> [String] {
        guard let state else { return ["the daemon is not running (no state file)"] }
        var problems: [String] = []
        if kill(state.pid, 0) != 0 && errno == ESRCH {
            problems.append("the daemon (pid \(state.pid)) is not running")
        } else if state.age > maxStateAge {
            problems.append("the daemon's state is \(Int(state.age)) s old: stuck or stopped")
        }
        if connected == false { problems.append("not connected to the broker: \(state.status)") }
        return problems
    }

    func hubReport() async throws -> Report {
        let settings = try await loadSettings(role: "hub", options: common,
                                              extra: province.map { ["province": .string($0)] } ?? [:], SettingsLoader.hub)
        let store = try HubCommand.openStoreForReading(settings)
        let state = DaemonState<RelayCounters>.read(database: settings.database)
        var problems = daemonProblems(state, connected: state?.counters.connected)
        let outbox: OutboxStats
        do {
            outbox = try store.outboxStats()
        } catch {
            printError("\(error)")
            throw ExitCodes.failure
        }
        let oldestAge = outbox.oldestPendingAt.flatMap(Timestamp.parse).map { Date().timeIntervalSince($0) }
        if let oldestAge, oldestAge > maxOutboxAge {
            problems.append("the oldest unpublished row is \(Int(oldestAge)) s old")
        }
        var facts = [
            "hub": settings.province, "database": settings.database, "outbox_pending": "\(outbox.pending)",
            "oldest_pending_age_s": oldestAge.map { String(Int($0)) } ?? "-", "last_seq": "\(outbox.lastSeq)",
        ]
        if let state {
            facts["daemon_pid"] = "\(state.pid)"
            facts["status"] = state.status
            facts["broker"] = state.counters.broker ?? "-"
            facts["connected"] = "\(state.counters.connected)"
            facts["last_confirm"] = state.counters.lastProgressAt ?? "-"
            facts["confirmed_since_start"] = "\(state.counters.confirmed)"
        }
        return Report(role: "hub \(settings.province)", healthy: false, problems: problems, facts: facts, hubs: nil)
    }

    func aggregatorReport() async throws -> Report {
        let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
        let store = try AggregatorCommand.openStoreForReading(settings)
        let state = DaemonState<AggregatorCounters>.read(database: settings.database)
        var problems = daemonProblems(state, connected: state?.counters.connected)
        var facts = ["database": settings.database]
        if let state {
            facts["daemon_pid"] = "\(state.pid)"
            facts["status"] = state.status
            facts["broker"] = state.counters.broker ?? "-"
            facts["connected"] = "\(state.counters.connected)"
            facts["last_commit"] = state.counters.lastProgressAt ?? "-"
        }
        do {
            let connection = try AMQPConnection(url: settings.broker.urls[0], tls: settings.broker.tls, heartbeat: 0,
                                                timeout: settings.broker.timeout)
            defer { connection.close() }
            let depth = try connection.queueDepth(WireNames.nationalQueue)
            facts["queue_depth"] = "\(depth)"
            facts["dead_letter_queue_depth"] = "\(try connection.queueDepth(WireNames.nationalDeadQueue))"
            if depth > maxQueue { problems.append("\(depth) messages wait in \(WireNames.nationalQueue)") }
        } catch {
            problems.append("cannot ask the broker for queue depths: \(error)")
        }
        let stats: CatalogueStats
        do {
            stats = try store.stats()
        } catch {
            printError("\(error)")
            throw ExitCodes.failure
        }
        facts["innovations"] = "\(stats.innovations)"
        facts["dead_letters_recorded"] = "\(stats.deadLetters)"
        let hubs = stats.hubs.map { hub -> [String: String] in
            let lag = Timestamp.parse(hub.lastMessageAt).map { String(Int(Date().timeIntervalSince($0))) } ?? "-"
            let last = stats.reconciliations.first { $0.hub == hub.hub }
            return [
                "hub": hub.hub, "records": "\(hub.live + hub.withdrawn)", "highest_seq": "\(hub.highestSeq)",
                "gap_from": hub.highestSeq > hub.contiguousSeq ? "\(hub.contiguousSeq + 1)" : "-",
                "last_message": hub.lastMessageAt, "lag_s": lag,
                "last_reconciliation": last.map { "\($0.reason) \($0.requestedAt) \($0.completedAt == nil ? "open" : "done")" } ?? "-",
            ]
        }
        return Report(role: "aggregator", healthy: false, problems: problems, facts: facts, hubs: hubs)
    }
}
