import CSV
import Foundation

/// File formats `jippnas hub import` reads.
public enum ImportFormat: String, Sendable, CaseIterable {
    case jsonArray = "json"
    case ndjson
    case csv

    /// The format named by a file's extension, or sniffed from its first non-blank byte.
    public static func detect(fileName: String, data: Data) -> ImportFormat {
        let lower = fileName.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { return .ndjson }
        if lower.hasSuffix(".json") { return .jsonArray }
        let first = data.first { !($0 == 32 || $0 == 9 || $0 == 10 || $0 == 13) }
        switch first {
        case UInt8(ascii: "["): return .jsonArray
        case UInt8(ascii: "{"): return .ndjson
        default: return .csv
        }
    }
}

/// One good row of an import file.
public struct ImportedRow: Sendable, Equatable {
    /// Where the row is, for messages: `line 4`, `row 3`, `item 2`.
    public var location: String
    public var content: InnovationContent
}

/// One refused row, with the reason and, where useful, the value that was wrong.
public struct ImportIssue: Sendable, Equatable, CustomStringConvertible {
    public var location: String
    public var reason: ImportReason
    public var description: String { "\(location): \(reason)" }
}

/// Why an import row was refused: a wire validation reason, or one that only files can have.
public enum ImportReason: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(ValidationReason)
    case unknownField(String)
    case duplicateID(String, firstAt: String)
    case malformedRow(String)

    public var description: String {
        switch self {
        case .invalid(let reason): reason.code
        case .unknownField(let name): "unknown_field:\(name)"
        case .duplicateID(let id, let first): "duplicate_id:\(id) (first at \(first))"
        case .malformedRow(let detail): "malformed_row: \(detail)"
        }
    }
}

/// A whole file that cannot be read as its format.
public struct ImportFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var detail: String
    public var description: String { "\(file): \(detail)" }
}

/// The outcome of parsing one file: good rows and refused rows, each with its place in the file.
public struct ImportParse: Sendable {
    public var rows: [ImportedRow] = []
    public var issues: [ImportIssue] = []
}

/// Parses JSON arrays, NDJSON and CSV (English or Indonesian headers) into validated innovation content.
public enum ImportParser {
    /// Parses `data` as `format` for a hub of `province`. Never traps on bad input; a file that cannot be
    /// read at all throws ``ImportFileError``.
    public static func parse(_ data: Data, format: ImportFormat, province: String, fileName: String) throws(ImportFileError)
        -> ImportParse
    {
        var raw: [(String, Result<[String: String], ImportReason>)] = []
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ImportFileError(file: fileName, detail: "not valid UTF-8")
        }
        switch format {
        case .jsonArray:
            // The same strictness as the wire: duplicate keys or absurd nesting refuse the file, naming why.
            if let problem = EnvelopeCodec.structuralProblem(data) {
                throw ImportFileError(file: fileName, detail: "not a JSON array of objects (\(problem.code))")
            }
            guard let array = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [Any]
            else { throw ImportFileError(file: fileName, detail: "not a JSON array of objects (malformed_json)") }
            for (index, element) in array.enumerated() {
                raw.append(("item \(index + 1)", fields(fromJSON: element)))
            }
        case .ndjson:
            var lineNumber = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lineNumber += 1
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                let lineData = Data(trimmed.utf8)
                if let problem = EnvelopeCodec.structuralProblem(lineData) {
                    raw.append(("line \(lineNumber)", .failure(.invalid(problem))))
                    continue
                }
                let object = try? JSONSerialization.jsonObject(with: lineData, options: [])
                raw.append(("line \(lineNumber)",
                            object.map(fields(fromJSON:)) ?? .failure(.invalid(.malformedJSON))))
            }
        case .csv:
            raw = try csvRows(text, fileName: fileName)
        }

        var result = ImportParse()
        var firstSeen: [String: String] = [:]
        for (location, fields) in raw {
            switch fields.flatMap({ ImportNormalizer.content(from: $0, province: province) }) {
            case .failure(let reason):
                result.issues.append(ImportIssue(location: location, reason: reason))
            case .success(let content):
                if let first = firstSeen[content.id] {
                    result.issues.append(ImportIssue(location: location, reason: .duplicateID(content.id, firstAt: first)))
                } else {
                    firstSeen[content.id] = location
                    result.rows.append(ImportedRow(location: location, content: content))
                }
            }
        }
        return result
    }

    private static func fields(fromJSON value: Any) -> Result<[String: String], ImportReason> {
        guard let object = value as? [String: Any] else { return .failure(.malformedRow("not a JSON object")) }
        var out: [String: String] = [:]
        for (key, value) in object {
            switch value {
            case let s as String: out[key] = s
            case is NSNull: continue
            case let n as NSNumber:
                // JSONSerialization returns booleans as NSNumber too; neither belongs in a text field.
                if CFGetTypeIDIsBool(n) { return .failure(.invalid(.invalidField(key))) }
                out[key] = n.stringValue
            default: return .failure(.invalid(.invalidField(key)))
            }
        }
        return .success(out)
    }

    /// The physical line on which each CSV record starts (record 0 is the header), so that errors name
    /// the line an operator sees in an editor even when a quoted field spans lines.
    static func recordStartLines(_ text: String) -> [Int] {
        var starts = [1]
        var line = 1
        var inQuotes = false
        var atRecordStart = false
        for byte in text.utf8 {
            if atRecordStart {
                starts.append(line)
                atRecordStart = false
            }
            if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            } else if byte == UInt8(ascii: "\n") {
                line += 1
                if !inQuotes { atRecordStart = true }
            }
        }
        return starts
    }

    private static func CFGetTypeIDIsBool(_ n: NSNumber) -> Bool {
        String(cString: n.objCType) == "c" && (n == NSNumber(value: true) || n == NSNumber(value: false))
    }

    private static func csvRows(_ text: String, fileName: String) throws(ImportFileError)
        -> [(String, Result<[String: String], ImportReason>)]
    {
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text, hasHeaderRow: true, trimFields: true)
        } catch {
            throw ImportFileError(file: fileName, detail: "cannot read the CSV header row")
        }
        guard let header = reader.headerRow, !header.isEmpty else {
            throw ImportFileError(file: fileName, detail: "the CSV file has no header row")
        }
        let names = header.map { $0.trimmingWhitespace().lowercased().replacingOccurrences(of: "\u{FEFF}", with: "") }
        var rows: [(String, Result<[String: String], ImportReason>)] = []
        let startLines = recordStartLines(text)
        var index = 0
        while let row = reader.next() {
            index += 1
            let location = index < startLines.count ? "line \(startLines[index])" : "row \(index)"
            if row.count == 1 && row[0].isEmpty { continue }
            if row.count != names.count {
                rows.append((location, .failure(.malformedRow("\(row.count) fields, header has \(names.count)"))))
                continue
            }
            var fields: [String: String] = [:]
            for (name, value) in zip(names, row) where !value.isEmpty { fields[name] = value }
            rows.append((location, .success(fields)))
        }
        if let error = reader.error {
            throw ImportFileError(file: fileName, detail: "CSV read failed after \(index) rows: \(error)")
        }
        return rows
    }
}
