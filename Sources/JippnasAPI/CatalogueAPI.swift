internal import Foundation
import Hummingbird
import JippnasCore
import JippnasOps
import JippnasStore
import Logging
import OpenAPIHummingbird
internal import OpenAPIRuntime

/// The catalogue's read-only HTTP API under `/api/v1`, as `openapi.json` in this directory specifies it:
/// the generated server types decode every request and encode every response, and this type only maps
/// the store's records onto them.
public enum CatalogueAPI {
    /// The OpenAPI document, compiled in, served at `/api/v1/openapi.json`.
    public static let document = PackageResources.openapi_json

    /// Adds the API, its document and its middleware (problem documents, ETag, Cache-Control, CORS) to
    /// `router`. `store` should be opened read-only: its own connection pool, so no request can hold up the
    /// consumer's commits.
    public static func register<Context: RequestContext>(on router: Router<Context>, store: CatalogueStore, search: CachedSearch,
                                                          summaries: CatalogueSummaries, settings: WebSettings,
                                                          logger: Logger) throws
    {
        if let origin = settings.corsAllowOrigin {
            router.add(middleware: CORSMiddleware(
                allowOrigin: origin == "*" ? .all : .custom(origin), allowHeaders: [.ifNoneMatch, .accept],
                allowMethods: [.get, .head], exposedHeaders: ["ETag", "Cache-Control"], maxAge: .seconds(3600)))
        }
        let api = router.group("api/v1")
        api.get("openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
        try CatalogueHandlers(store: store, search: search, summaries: summaries).registerHandlers(
            on: api, serverURL: URL(string: "/")!,
            // Compact: a page of results is a tenth smaller without the indentation.
            configuration: Configuration(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]),
            middlewares: [ProblemMiddleware(logger: logger), ConditionalGetMiddleware(maxAge: settings.cacheMaxAge)])
    }
}

/// The operations of `openapi.json`.
struct CatalogueHandlers: APIProtocol {
    let store: CatalogueStore
    let search: CachedSearch
    let summaries: CatalogueSummaries

    func searchInnovations(_ input: Operations.SearchInnovations.Input) async throws -> Operations.SearchInnovations.Output {
        let q = input.query
        var cursor: SearchCursor?
        if let token = q.cursor {
            guard let decoded = SearchCursor(token: token) else {
                return .badRequest(.init(body: .applicationProblemJson(
                    Problems.badRequest(parameter: "cursor", detail: "not a page cursor from this catalogue"))))
            }
            cursor = decoded
        }
        // The document bounds limit; the generated code does not check schema bounds, so this does.
        if let limit = q.limit, !(1...CatalogueQuery.maximumLimit).contains(limit) {
            return .badRequest(.init(body: .applicationProblemJson(Problems.badRequest(
                parameter: "limit", detail: "\(limit) is not between 1 and \(CatalogueQuery.maximumLimit)"))))
        }
        let query: CatalogueQuery
        do {
            query = try CatalogueQuery(
                text: q.q ?? "", province: q.province, region: q.region, category: q.category.flatMap { Category(rawValue: $0.rawValue) },
                kind: q.kind.flatMap { InnovationKind(rawValue: $0.rawValue) }, stage: q.stage.flatMap { Stage(rawValue: $0.rawValue) },
                status: q.status.flatMap { InnovationStatus(rawValue: $0.rawValue) },
                withdrawn: q.withdrawn.flatMap { CatalogueQuery.WithdrawnFilter(rawValue: $0.rawValue) } ?? .exclude,
                launchedFrom: q.launchedFrom, launchedTo: q.launchedTo, replicates: q.replicates, replicatedBy: q.replicatedBy,
                limit: q.limit ?? CatalogueQuery.defaultLimit, after: cursor,
                sort: q.sort.flatMap { SearchSort(rawValue: $0.rawValue) } ?? .relevance, page: q.page
            ).validated()
        } catch {
            return .badRequest(.init(body: .applicationProblemJson(Problems.badRequest(parameter: error.parameter, detail: error.reason))))
        }
        let wantsCounts = q.counts ?? false
        // The whole live catalogue is counted exactly by its cached summary, not by counting rows.
        var page = try search.search(query, counts: wantsCounts && query.isFiltered)
        if wantsCounts, !query.isFiltered { page.counts = SearchCounts(try summaries.current().facets) }
        let corrections = page.corrections.map { Components.Schemas.Correction(word: $0.word, replacements: $0.replacements) }
        return .ok(.init(body: .json(.init(
            items: page.hits.map(Mapping.result), nextCursor: page.next?.token, corrections: corrections.isEmpty ? nil : corrections,
            leftOut: page.leftOut.isEmpty ? nil : page.leftOut, total: page.counts.map { .init(count: $0.total, exact: $0.exact) },
            facets: page.counts.map(Mapping.facets)))))
    }

    func getInnovation(_ input: Operations.GetInnovation.Input) async throws -> Operations.GetInnovation.Output {
        let globalID = input.path.globalId
        guard GlobalID.parse(globalID) != nil else {
            return .badRequest(.init(body: .applicationProblemJson(Problems.badRequest(
                parameter: "global_id", detail: "'\(globalID)' is not a global id (<province>:<id>, for example 35:sw-surabaya)"))))
        }
        guard let detail = try store.detail(globalID: globalID) else {
            return .notFound(.init(body: .applicationProblemJson(Problems.notFound(globalID))))
        }
        return .ok(.init(body: .json(Mapping.detail(detail))))
    }

    func listHubs(_ input: Operations.ListHubs.Input) async throws -> Operations.ListHubs.Output {
        let summary = try summaries.current()
        let hubs = summary.hubs.map { Mapping.hub($0, now: summary.computedAt) }
        return .ok(.init(body: .json(.init(generatedAt: Timestamp.rfc3339(summary.computedAt), hubs: hubs))))
    }

    func getStats(_ input: Operations.GetStats.Input) async throws -> Operations.GetStats.Output {
        .ok(.init(body: .json(Mapping.stats(try summaries.current().facets))))
    }

    func exportNDJSON(_ input: Operations.ExportNDJSON.Input) async throws -> Operations.ExportNDJSON.Output {
        let encoder = CatalogueExport.ndjsonEncoder()
        return .ok(.init(body: .applicationXNdjson(export { try CatalogueExport.ndjsonLine($0, encoder: encoder) })))
    }

    func exportCSV(_ input: Operations.ExportCSV.Input) async throws -> Operations.ExportCSV.Output {
        .ok(.init(body: .csv(export(header: CatalogueExport.csvLine(CatalogueExport.csvHeader)) {
            Data(CatalogueExport.csvLine($0).utf8)
        })))
    }

    /// The whole catalogue as a body read one chunk at a time, only when the client has taken the last:
    /// memory stays flat whatever the catalogue's size.
    private func export(header: String? = nil, _ line: @escaping @Sendable (CatalogueEntry) throws -> Data) -> HTTPBody {
        HTTPBody(ExportChunks(store: store, header: header, line: line), length: .unknown, iterationBehavior: .single)
    }
}

/// Pulls the catalogue a chunk at a time as encoded bytes.
struct ExportChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let store: CatalogueStore
    let header: String?
    let line: @Sendable (CatalogueEntry) throws -> Data

    struct AsyncIterator: AsyncIteratorProtocol {
        let source: ExportChunks
        var after = ""
        var headerSent = false
        var finished = false

        mutating func next() async throws -> ArraySlice<UInt8>? {
            guard !finished, !Task.isCancelled else { return nil }
            var bytes = Data()
            if !headerSent, let header = source.header { bytes.append(contentsOf: header.utf8) }
            headerSent = true
            let chunk = try source.store.entries(after: after)
            for entry in chunk { bytes.append(try source.line(entry)) }
            after = chunk.last?.globalID ?? after
            finished = chunk.count < CatalogueStore.exportChunk
            return bytes.isEmpty ? nil : ArraySlice(bytes)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }
}
