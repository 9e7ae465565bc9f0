import ArgumentParser
import Configuration
import Foundation
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import Logging
import ServiceLifecycle

@main
struct Jippnas: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jippnas",
        abstract: "JIPPNas federation: provincial innovation hubs feeding the national catalogue over RabbitMQ.",
        discussion: """
            Exit codes: 0 success; 1 runtime failure (store, broker); 64 usage or configuration error; \
            65 input data refused (import rows, unknown id).
            """,
        version: JippnasVersion.current,
        subcommands: [HubCommand.self, AggregatorCommand.self, MirrorCommand.self, CatalogueCommand.self, StatusCommand.self, BrokerCommand.self,
                      KeysCommand.self]
    )
}

/// Exit codes shared by every command (sysexits.h values where one fits).
enum ExitCodes {
    static let failure = ExitCode(1)
    static let usage = ExitCode(64)
    static let dataRefused = ExitCode(65)
}

/// Options every command that reads config takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (default /etc/jippnas/<role>.yaml when it exists).")
    var config: String?

    @Option(name: .long, help: "SQLite database path (overrides config key 'database').")
    var database: String?

    @Option(name: .long, help: "Broker URL amqp://user:pass@host:port/vhost; repeat for cluster nodes (overrides 'broker.urls').")
    var broker: [String] = []

    @Option(name: .long, help: "trace, debug, info, notice, warning, error (overrides 'log.level').")
    var logLevel: String?

    @Option(name: .long, help: "text or json (overrides 'log.format').")
    var logFormat: String?

    func overrides(extra: [String: ConfigContent] = [:]) -> [String: ConfigContent] {
        var values = extra
        if let database { values["database"] = .string(database) }
        if !broker.isEmpty { values["broker.urls"] = .stringArray(broker) }
        if let logLevel { values["log.level"] = .string(logLevel) }
        if let logFormat { values["log.format"] = .string(logFormat) }
        return values
    }
}

/// Loads settings, or exits 64 with the problem on stderr (with `exitOnError` false, throws it instead:
/// a reload keeps the running settings).
func loadSettings<T>(role: String, options: ConfigOptions, extra: [String: ConfigContent] = [:], exitOnError: Bool = true,
                     _ parse: (ConfigReader) throws(ConfigError) -> T) async throws -> T
{
    do {
        let reader = try await SettingsLoader.reader(role: role, file: options.config, overrides: options.overrides(extra: extra))
        return try parse(reader)
    } catch {
        guard exitOnError else { throw error }
        printError("\(error)")
        throw ExitCodes.usage
    }
}

/// Applies what a reload may change while running: the log level at once, `changes` (batch sizes,
/// checkpoint interval) from the loop's next turn. Broker URLs, the database and the HTTP listener apply at
/// the next start.
func applyReload(level: Logger.Level, changes: Logger.Metadata, logger: Logger) {
    let old = Logs.level
    Logs.setLevel(level)
    var metadata = changes
    metadata["log_level"] = "\(old.rawValue)->\(level.rawValue)"
    logger.notice("configuration reloaded", metadata: metadata)
}

/// Creates the database's directory and opens the store, or exits 1 with the problem on stderr.
func openDatabase<Store>(_ path: String, _ open: (String) throws -> Store) throws -> Store {
    do {
        // A bare file name ("hub.sqlite") has no directory to make: it is in the current one.
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        return try open(path)
    } catch {
        printError("\(error)")
        throw ExitCodes.failure
    }
}

/// Opens an existing store read-only for a command that only reads, or exits 1 with "no store at PATH":
/// a mistyped path must not leave an empty store behind that then reports itself healthy.
func openExistingDatabase<Store>(_ path: String, _ open: (String) throws -> Store) throws -> Store {
    guard FileManager.default.fileExists(atPath: path) else {
        printError("no store at \(path)")
        throw ExitCodes.failure
    }
    do {
        return try open(path)
    } catch {
        printError("\(error)")
        throw ExitCodes.failure
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("jippnas: " + message + "\n").utf8))
}


/// Prints rows as an aligned text table.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    print(line(header))
    print(line(widths.map { String(repeating: "-", count: $0) }))
    for row in rows { print(line(row)) }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func truncate(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }
