import Foundation
import JippnasCore
import JippnasStore

/// A child process of the benchmark, with what /proc says it cost.
final class Child {
    let process = Process()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], log: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = FileHandle(forWritingAtPath: log)
            process.standardOutput = handle
            process.standardError = handle
        }
        try process.run()
    }

    /// Runs to the end and returns standard output; throws on a non-zero exit. `quiet` drops standard error.
    static func run(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if quiet { process.standardError = FileHandle.nullDevice }
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(output)")
        }
        return output
    }

    /// Peak resident set (VmHWM) in KiB.
    var peakRSSKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    /// User plus system CPU seconds so far.
    var cpuSeconds: Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, then waits for the exit; once is enough.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

extension Scenarios {
    /// The hub as an operator runs it: `jippnas hub import` of every row, then `jippnas hub run` with its
    /// defaults, timed from start until the outbox has nothing pending.
    func relayProcess() throws -> Sample {
        let database = dir + "/process-hub-\(UUID().uuidString.prefix(6)).sqlite"
        let file = dir + "/import-35.ndjson"
        if !FileManager.default.fileExists(atPath: file) { try writeImportFile(file) }
        _ = try Child.run(jippnas, ["hub", "import", "--province", "35", "--database", database, file])
        let store = try HubStore(path: database, province: "35")
        let start = ContinuousClock.now
        let child = try Child(jippnas, ["hub", "run", "--province", "35", "--database", database],
                              environment: ["JIPPNAS_BROKER_URLS": brokerText], log: database + ".log")
        defer { child.stop() }  // also when the wait fails: no daemon outlives the bench
        try waitUntil("jippnas hub run: the outbox never emptied (log \(database).log)") {
            try store.pendingOutbox(after: 0, limit: 1).isEmpty
        }
        var sample = Sample(seconds: (ContinuousClock.now - start).seconds)
        sample.peakRSSKiB = child.peakRSSKiB
        sample.cpuSeconds = child.cpuSeconds
        child.stop()
        return sample
    }

    /// The aggregator as an operator runs it: `jippnas aggregator run` with its defaults on a full queue,
    /// timed from start until every message is in the catalogue.
    func aggregatorProcess() throws -> Sample {
        try Workload.fill(workload.threeHubs, url: url, signed: false)
        let database = dir + "/process-catalogue-\(UUID().uuidString.prefix(6)).sqlite"
        let catalogue = try CatalogueStore(path: database)
        let start = ContinuousClock.now
        let child = try Child(jippnas, ["aggregator", "run", "--database", database],
                              environment: ["JIPPNAS_BROKER_URLS": brokerText], log: database + ".log")
        defer { child.stop() }
        try waitUntil("jippnas aggregator run: the catalogue never reached \(count) innovations (log \(database).log)") {
            try catalogue.innovationCount() >= count
        }
        var sample = Sample(seconds: (ContinuousClock.now - start).seconds)
        sample.peakRSSKiB = child.peakRSSKiB
        sample.cpuSeconds = child.cpuSeconds
        child.stop()
        return sample
    }

    private func writeImportFile(_ path: String) throws {
        let encoder = JSONEncoder()
        let lines = try Workload.contents(province: "35", count: count).map { content in
            String(decoding: try encoder.encode(content), as: UTF8.self)
        }
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
    }
}
