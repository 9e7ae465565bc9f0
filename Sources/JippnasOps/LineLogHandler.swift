import Foundation
import JippnasCore
import Logging

/// One line per event with `key=value` context, written to stderr.
///
/// Under systemd (stderr is the journal stream named by `$JOURNAL_STREAM`) each line starts with the
/// `<N>` syslog priority and carries no timestamp, because journald adds both; on a terminal or in a
/// file each line starts with the UTC time and the level.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let journal: Bool

    public init(label: String, level: Logger.Level, journal: Bool = LineLogHandler.stderrIsJournal()) {
        self.label = label
        self.logLevel = level
        self.journal = journal
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = journal ? "<\(Self.priority(event.level))>" : Timestamp.now() + " " + Self.pad(event.level) + " "
        line += event.message.description
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            line += " " + key + "=" + Self.quote(merged[key]!.description)
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Whether stderr is connected to the journal: `$JOURNAL_STREAM` is `device:inode` of that stream.
    public static func stderrIsJournal() -> Bool {
        guard let stream = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    private static func pad(_ level: Logger.Level) -> String {
        let s = level.rawValue
        return s.count >= 8 ? s : s + String(repeating: " ", count: 8 - s.count)
    }

    /// Values with spaces, quotes or `=` are quoted so a line stays machine-splittable.
    static func quote(_ value: String) -> String {
        if value.isEmpty { return "\"\"" }
        guard value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

/// Process-wide logging set-up.
public enum Logs {
    /// Installs ``LineLogHandler`` as the swift-log backend at `level`.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
    }
}
