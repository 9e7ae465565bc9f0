import Foundation
import JippnasCore
import Logging
import Synchronization

/// How log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    /// One line per event with `key=value` context; under the journal, a `<N>` priority prefix instead of
    /// time and level.
    case text
    /// One JSON object per line, for log shippers.
    case json
}

/// One line per event with `key=value` context, written to stderr.
///
/// Under systemd (stderr is the journal stream named by `$JOURNAL_STREAM`) each line starts with the
/// `<N>` syslog priority and carries no timestamp, because journald adds both; on a terminal or in a
/// file each line starts with the UTC time and the level. The level is process-wide (``Logs/setLevel(_:)``)
/// so a reload changes it for every logger at once.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let journal: Bool
    private let format: LogFormat

    public init(label: String, format: LogFormat = .text, journal: Bool = LineLogHandler.stderrIsJournal()) {
        self.label = label
        self.format = format
        self.journal = journal
    }

    public var logLevel: Logger.Level {
        get { Logs.level }
        set { Logs.setLevel(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line: String
        switch format {
        case .json:
            var object: [String: String] = ["time": Timestamp.now(), "level": event.level.rawValue,
                                            "message": event.message.description]
            for (key, value) in merged where object[key] == nil { object[key] = value.description }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        case .text:
            var text = journal ? "<\(Self.priority(event.level))>" : Timestamp.now() + " " + Self.pad(event.level) + " "
            text += event.message.description
            for key in merged.keys.sorted() { text += " " + key + "=" + Self.quote(merged[key]!.description) }
            line = text
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
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

    /// Values with spaces, quotes, `=` or control characters are quoted and escaped, so a line stays
    /// machine-splittable and a hostile value (a message id with a CR LF, say) cannot forge a log line.
    static func quote(_ value: String) -> String {
        if value.isEmpty { return "\"\"" }
        let needsQuotes = value.unicodeScalars.contains { s in
            s == " " || s == "\"" || s == "=" || s.value < 0x20 || s.value == 0x7F
        }
        guard needsQuotes else { return value }
        var out = "\""
        for s in value.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if s.value < 0x20 || s.value == 0x7F {
                    out += "\\x" + String(s.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Process-wide logging set-up.
public enum Logs {
    private static let levelIndex = Atomic<Int>(2)
    private static let levels = Logger.Level.allCases

    /// The current process-wide level.
    public static var level: Logger.Level { levels[levelIndex.load(ordering: .relaxed)] }

    /// Changes the level of every logger at once (start-up, SIGHUP reload).
    public static func setLevel(_ level: Logger.Level) {
        levelIndex.store(levels.firstIndex(of: level) ?? 2, ordering: .relaxed)
    }

    /// Installs ``LineLogHandler`` as the swift-log backend.
    public static func bootstrap(level: Logger.Level, format: LogFormat = .text) {
        setLevel(level)
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format) }
    }
}
