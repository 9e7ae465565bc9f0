import ArgumentParser
import Foundation
import JippnasCore
import JippnasOps
import JippnasStore

extension Category: ExpressibleByArgument {}
extension InnovationKind: ExpressibleByArgument {}
extension Stage: ExpressibleByArgument {}
extension InnovationStatus: ExpressibleByArgument {}
extension CatalogueQuery.WithdrawnFilter: ExpressibleByArgument {}
extension SearchSort: ExpressibleByArgument {}
extension CatalogueExport.Format: ExpressibleByArgument {}

extension CatalogueCommand {
    /// The filters `search` shares with the HTTP API, spelled as options.
    struct Filters: ParsableArguments {
        @Option(name: .long, help: "The publishing hub's province code (35).") var province: String?
        @Option(name: .long, help: "Kabupaten/kota code (35.78).") var region: String?
        @Option(name: .long, help: "Category.") var category: Category?
        @Option(name: .long, help: "digital or non_digital.") var kind: InnovationKind?
        @Option(name: .long, help: "Stage.") var stage: Stage?
        @Option(name: .long, help: "active or dormant.") var status: InnovationStatus?
        @Option(name: .long, help: "Withdrawn innovations: exclude, include or only.") var withdrawn: CatalogueQuery.WithdrawnFilter = .exclude
        @Option(name: .long, help: "Launched in this year or later.") var launchedFrom: Int?
        @Option(name: .long, help: "Launched in this year or earlier.") var launchedTo: Int?
        @Option(name: .long, help: "Only innovations replicating this global id.") var replicates: String?
        @Option(name: .long, help: "Only the innovation this global id replicates.") var replicatedBy: String?

        func query(text: String, limit: Int, after: SearchCursor?, sort: SearchSort = .relevance, page: Int? = nil) -> CatalogueQuery {
            CatalogueQuery(text: text, province: province, region: region, category: category, kind: kind, stage: stage,
                           status: status, withdrawn: withdrawn, launchedFrom: launchedFrom, launchedTo: launchedTo,
                           replicates: replicates, replicatedBy: replicatedBy, limit: limit, after: after, sort: sort, page: page)
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search the catalogue: ranked full-text search with filters, one page at a time.",
            discussion: """
                Words match anywhere in title, agency, summary and benefits, as prefixes, accents and case \
                ignored, or by their Indonesian stem (izin finds perizinan); a word in the title ranks highest, \
                the written form above a stem. "Quoted words" match as a phrase, -word leaves out what holds \
                the word; other text is plain words. A word of five letters or more that matches nothing is \
                searched as the nearest words of the catalogue, and the output says so. Without words, \
                innovations are listed by global id; --sort newest or replicated orders by launch date or by \
                replications. The next page: repeat with --after TOKEN (printed at the end), or ask for --page N. \
                --counts prints how many match and how they spread over provinces and categories.
                """)
        @OptionGroup var options: Options
        @Argument(help: "Words to search for (may be empty).") var text: String = ""
        @OptionGroup var filters: Filters
        @Option(name: .long, help: "Results per page (at most \(CatalogueQuery.maximumLimit)).") var limit = CatalogueQuery.defaultLimit
        @Option(name: .long, help: "Continue after this page token.") var after: String?
        @Option(name: .long, help: "Order: relevance, newest or replicated.") var sort: SearchSort = .relevance
        @Option(name: .long, help: "A page by number, within the first \(CatalogueQuery.maximumPageDepth) results.") var page: Int?
        @Flag(name: .long, help: "Also count the matches and their spread (on stderr; in the JSON as total and facets).") var counts = false
        @Flag(name: .long, help: "Print CSV (formula cells neutralised).") var csv = false

        struct Printed: Encodable {
            var items: [Item]
            var next: String?
            var corrections: [Correction]
            var leftOut: [String]
            var total: Int?
            var totalIsExact: Bool?
            var facets: [String: [String: Int]]?
            enum CodingKeys: String, CodingKey {
                case items, next, corrections, total, facets
                case leftOut = "left_out"
                case totalIsExact = "total_exact"
            }
            struct Correction: Encodable {
                var word: String
                var replacements: [String]
            }
            struct Item: Encodable {
                var entry: CatalogueEntry
                var rank: Double?
            }
        }

        func run() async throws {
            var cursor: SearchCursor?
            if let after {
                guard let decoded = SearchCursor(token: after) else { throw ValidationError("--after: not a page token from this catalogue") }
                cursor = decoded
            }
            let query: CatalogueQuery
            do {
                query = try filters.query(text: text, limit: limit, after: cursor, sort: sort, page: page).validated()
            } catch {
                let option = error.parameter == "q" ? "search words" : "--" + error.parameter.replacingOccurrences(of: "_", with: "-")
                throw ValidationError("\(option): \(error.reason)")
            }
            let store = try await options.store()
            let page = try guarded { try store.search(query, counts: counts) }
            if options.json {
                let c = page.counts
                let facets = c.map { ["province": $0.byProvince, "category": $0.byCategory, "stage": $0.byStage, "kind": $0.byKind, "year": $0.byYear] }
                return try printJSON(Printed(items: page.hits.map { .init(entry: $0.entry, rank: $0.rank) }, next: page.next?.token,
                                             corrections: page.corrections.map { .init(word: $0.word, replacements: $0.replacements) },
                                             leftOut: page.leftOut, total: c?.total, totalIsExact: c?.exact, facets: facets))
            }
            if let c = page.counts {
                let top = c.byProvince.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5).map { "\($0.key) \($0.value)" }
                FileHandle.standardError.write(Data("\(c.exact ? "" : "more than ")\(c.total) match(es); by province: \(top.joined(separator: ", "))\n".utf8))
            }
            for correction in page.corrections {
                // On stderr: stdout stays the results alone, for CSV and pipes.
                let instead = correction.replacements.joined(separator: " / ")
                FileHandle.standardError.write(Data("showing results for \(instead) instead of \(correction.word)\n".utf8))
            }
            for word in page.leftOut {
                FileHandle.standardError.write(Data("no innovation holds every word: showing results without \(word)\n".utf8))
            }
            if csv {
                print(CatalogueExport.csvLine(CatalogueExport.csvHeader), terminator: "")
                for hit in page.hits { print(CatalogueExport.csvLine(hit.entry), terminator: "") }
                return
            }
            printTable(["GLOBAL ID", "REGION", "CATEGORY", "STAGE", "YEAR", "TITLE"], page.hits.map { hit in
                let i = hit.entry.innovation
                return [hit.entry.globalID, i.region, i.category.rawValue, i.stage.rawValue,
                        i.launchedOn.map { String($0.prefix(4)) } ?? "-",
                        truncate((hit.entry.withdrawn ? "[withdrawn] " : "") + i.title, 70)]
            })
            print("\(page.hits.count) result(s)" + (page.next.map { "; next page: --after \($0.token)" } ?? ""))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the whole catalogue as CSV, NDJSON, or a DCAT-AP JSON-LD description.",
            discussion: """
                Streams in global-id order, a thousand records at a time, in flat memory whatever the size; \
                safe while the aggregator runs. CSV cells that a spreadsheet would run as a formula get a \
                leading '. A progress bar goes to a terminal's stderr when the output does not.
                """)
        @OptionGroup var options: Options
        @Option(name: .long, help: "csv, ndjson or dcat.") var format: CatalogueExport.Format
        @Option(name: [.short, .long], help: "Write here instead of stdout.") var output: String?
        @Flag(name: .long, help: "Leave out withdrawn innovations.") var activeOnly = false
        @Option(name: .long, help: "Public address of the API, for DCAT distribution links.") var baseURL = "http://127.0.0.1:9464"

        func run() async throws {
            let store = try await options.store()
            let sink = try ExportSink(path: output)
            defer { sink.close() }
            if format == .dcat {
                let facets = try guarded { try store.facets() }
                try sink.write(try CatalogueExport.dcat(facets: facets, modified: facets.lastChangeAt, baseURL: baseURL))
                try sink.write(Data("\n".utf8))
                return try sink.flush()
            }
            let total = try guarded { try store.count(includeWithdrawn: !activeOnly) }
            let progress = ProgressBar(total: total, enabled: isatty(STDERR_FILENO) == 1 && (output != nil || isatty(STDOUT_FILENO) == 0))
            let encoder = CatalogueExport.ndjsonEncoder()
            if format == .csv { try sink.write(Data(CatalogueExport.csvLine(CatalogueExport.csvHeader).utf8)) }
            var written = 0
            try store.forEachEntry(includeWithdrawn: !activeOnly) { entry in
                switch format {
                case .csv: try sink.write(Data(CatalogueExport.csvLine(entry).utf8))
                case .ndjson: try sink.write(try CatalogueExport.ndjsonLine(entry, encoder: encoder))
                case .dcat: break
                }
                written += 1
                progress.update(written)
                return true
            }
            try sink.flush()
            progress.finish(written)
        }
    }

    struct Reindex: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the search index against the records and rebuild it if they differ (or with --force).",
            discussion: """
                Needed after a VACUUM of the catalogue, which may renumber the rows the index points at. The check \
                and the rebuild hold the catalogue's write lock for seconds at a million rows, so the aggregator \
                must be stopped: refused while it runs.
                """)
        @OptionGroup var common: ConfigOptions
        @Flag(name: .long, help: "Rebuild even when the check passes.") var force = false

        func run() async throws {
            let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
            guard FileManager.default.fileExists(atPath: settings.database) else {
                printError("no store at \(settings.database)")
                throw ExitCodes.failure
            }
            // The lock first: opening read-write migrates, which must not happen under a running daemon.
            let lock: DatabaseLock
            do {
                lock = try DatabaseLock(database: settings.database, owner: "jippnas catalogue reindex")
            } catch {
                printError("\(error); stop the aggregator first")
                throw ExitCodes.failure
            }
            defer { withExtendedLifetime(lock) {} }
            let store = try openExistingDatabase(settings.database) { path in
                try CatalogueStore(path: path, searchIndex: .rebuildIfStale) { step in print(step) }
            }
            let consistent = try guarded { try store.searchIndexIsConsistent() }
            guard force || !consistent else { return print("search index consistent with \(try guarded { try store.innovationCount() }) records") }
            let started = ContinuousClock.now
            try guarded { try store.rebuildSearchIndex() }
            print("search index \(consistent ? "" : "was inconsistent; ")rebuilt in \(ContinuousClock.now - started)")
        }
    }
}

/// Where an export goes: stdout or a file, through a 256 KiB buffer.
final class ExportSink {
    private let handle: FileHandle
    private let ownsHandle: Bool
    private var buffer = Data()

    init(path: String?) throws {
        guard let path else {
            handle = .standardOutput
            ownsHandle = false
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            printError("cannot create \(path)")
            throw ExitCodes.failure
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        ownsHandle = true
    }

    func write(_ data: Data) throws {
        buffer.append(data)
        if buffer.count >= 256 * 1024 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        try? flush()
        if ownsHandle { try? handle.close() }
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
final class ProgressBar {
    private let total: Int
    private let enabled: Bool
    private let started = ContinuousClock.now
    private var lastDrawn = ContinuousClock.now - .seconds(1)

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func update(_ done: Int) {
        guard enabled, ContinuousClock.now - lastDrawn >= .milliseconds(100) else { return }
        lastDrawn = .now
        draw(done, final: false)
    }

    func finish(_ done: Int) {
        if enabled { draw(done, final: true) }
    }

    private func draw(_ done: Int, final: Bool) {
        let fraction = total == 0 ? 1 : min(Double(done) / Double(total), 1)
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = max(Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds), 0.001)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "\r[%@] %3.0f%% %d/%d  %.0f/s", bar, fraction * 100, done, total, Double(done) / seconds)
        FileHandle.standardError.write(Data((line + (final ? "\n" : "")).utf8))
    }
}
