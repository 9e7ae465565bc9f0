import Foundation
import Hummingbird
import JippnasCore
import Logging
import JippnasStore
import Mustache

/// The catalogue's web pages: search with filters, a detail page per innovation, a chart of innovations
/// per province and the freshness of every hub. Server-rendered, Indonesian, no external assets.
///
/// Every value reaches the page through Mustache's escaping `{{ }}`: hub operators write the titles, and
/// the catalogue keeps HTML-looking ones verbatim on purpose.
public struct CatalogueWeb: Sendable {
    let store: CatalogueStore
    let search: CachedSearch
    let summaries: CatalogueSummaries
    let templates: MustacheLibrary
    let css: String
    let logger: Logger

    public init(search: CachedSearch, summaries: CatalogueSummaries, logger: Logger) throws {
        self.store = search.store
        self.search = search
        self.summaries = summaries
        self.logger = logger
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        templates = MustacheLibrary(templates: [
            "layout": try MustacheTemplate(string: text(PackageResources.layout_mustache)),
            "search": try MustacheTemplate(string: text(PackageResources.search_mustache)),
            "detail": try MustacheTemplate(string: text(PackageResources.detail_mustache)),
        ])
        css = text(PackageResources.style_css)
    }

    /// Adds `GET /` and `GET /inovasi/{global id}`.
    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/") { request, _ in self.searchPage(Self.formValues(request.uri.query ?? "")) }
        router.get("/inovasi/:global_id") { _, context in
            self.detailPage(context.parameters.get("global_id") ?? "")
        }
    }

    /// The search form's fields from a raw query string, decoded as a browser encodes a form
    /// (`application/x-www-form-urlencoded`: `+` is a space, `%2B` a plus); unknown names are dropped.
    static func formValues(_ query: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if CatalogueQuery.parameterNames.contains(name) { values[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return values
    }

    func searchPage(_ values: [String: String]) -> Response {
        var page = SearchPageView(values: values)
        var status = HTTPResponse.Status.ok
        do {
            let query = try CatalogueQuery(parameters: values)
            // The whole live catalogue is counted exactly by its cached summary, not by counting rows.
            var results = try search.search(query, counts: query.isFiltered)
            if !query.isFiltered { results.counts = SearchCounts(try summaries.current().facets) }
            page.show(results, query: query, values: values)
        } catch let invalid as CatalogueQuery.Invalid {
            page.error = Labels.invalid(invalid, value: values[invalid.parameter] ?? "")
            status = .badRequest
        } catch {
            return failure(error)
        }
        do {
            let summary = try summaries.current()
            page.chart = Chart(byProvince: summary.facets.byProvince)
            page.replication = Replication(summary.facets)
            page.hubs = summary.hubs.map(HubRow.init)
        } catch {
            return failure(error)
        }
        return html(status: status, title: "Cari inovasi", body: templates.render(page, withTemplate: "search") ?? "")
    }

    func detailPage(_ globalID: String) -> Response {
        do {
            guard GlobalID.parse(globalID) != nil, let detail = try store.detail(globalID: globalID) else {
                return html(status: .notFound, title: "Tidak ditemukan",
                            body: "<h1>Inovasi tidak ditemukan</h1><p>Tidak ada inovasi dengan kode yang diminta. <a href=\"/\">Kembali ke pencarian</a></p>")
            }
            let view = DetailView(detail, provenance: try store.provenance(globalID: globalID))
            return html(status: .ok, title: view.title, body: templates.render(view, withTemplate: "detail") ?? "")
        } catch {
            return failure(error)
        }
    }

    private func failure(_ error: any Error) -> Response {
        logger.error("catalogue page failed", metadata: ["error": "\(error)"])
        return html(status: .internalServerError, title: "Galat",
             body: "<h1>Terjadi galat</h1><p>Katalog tidak dapat dibaca saat ini. Coba lagi sebentar lagi.</p>")
    }

    private func html(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let page = templates.render(["title": title, "css": css, "body": body] as [String: Any], withTemplate: "layout") ?? ""
        return Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-cache",
            // Nothing on these pages comes from elsewhere, and nothing may.
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'",
            .init("X-Content-Type-Options")!: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(string: page)))
    }
}

/// Indonesian labels for the catalogue's vocabularies.
enum Labels {
    static func stage(_ s: Stage) -> String {
        switch s {
        case .inisiatif: "Inisiatif"
        case .ujiCoba: "Uji coba"
        case .penerapan: "Penerapan"
        }
    }

    static func kind(_ k: InnovationKind) -> String { k == .digital ? "Digital" : "Non-digital" }

    static func status(_ s: InnovationStatus) -> String { s == .active ? "Aktif" : "Tidak aktif" }

    static func initiator(_ i: Initiator) -> String {
        switch i {
        case .kepalaDaerah: "Kepala daerah"
        case .anggotaDPRD: "Anggota DPRD"
        case .perangkatDaerah: "Perangkat daerah"
        case .asn: "ASN"
        case .masyarakat: "Masyarakat"
        }
    }

    static func category(_ c: Category) -> String {
        let name = c.indonesianName
        return name.prefix(1).uppercased() + name.dropFirst()
    }

    static func province(_ code: String) -> String { ProvinceRegistry.province(code: code)?.name ?? code }

    static func sort(_ s: SearchSort) -> String {
        switch s {
        case .relevance: "Paling relevan"
        case .newest: "Terbaru"
        case .replicated: "Paling banyak direplikasi"
        }
    }

    /// A count as Indonesians write it: a dot between thousands (12.345).
    static func number(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "." }
            out.append(digit)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A refused parameter, in Indonesian, naming the form field.
    static func invalid(_ error: CatalogueQuery.Invalid, value: String) -> String {
        let fields = [
            "q": "kata kunci", "province": "provinsi", "region": "wilayah", "category": "kategori", "kind": "jenis",
            "stage": "tahapan", "status": "status", "withdrawn": "penarikan", "launched_from": "tahun dari",
            "launched_to": "tahun sampai", "replicates": "mereplikasi", "replicated_by": "direplikasi oleh",
            "limit": "jumlah per halaman", "cursor": "halaman", "page": "nomor halaman", "sort": "urutan",
        ]
        let field = fields[error.parameter] ?? error.parameter
        if error.parameter == "q" { return "kata kunci terlalu panjang (paling banyak \(SearchText.maximumLength) karakter)" }
        if error.parameter == "launched_from", error.reason.contains("after") { return "tahun dari lebih besar daripada tahun sampai" }
        return "nilai \(field) tidak valid: ‘\(value)’"
    }
}
