import AsyncHTTPClient
import Foundation
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTestSupport
import NIOCore
import NIOHTTP1
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Testing

/// The catalogue API of a running aggregator, through async-http-client. Typed calls go through a client
/// generated from the same openapi.json as the server: a response that does not match the document does
/// not decode, and the test fails.
@Suite("Catalogue HTTP API", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct CatalogueAPITests {
    @Test("search, filters, pages, detail, hubs, stats and exports of a running aggregator match the document")
    func apiOfARunningAggregator() async throws {
        let url = try BrokerFixture.isolatedURL("api")
        let site = try await RunningSite(label: "api", brokerURL: url.withPassword,
                                         environment: ["JIPPNAS_HTTP_CORS_ALLOW_ORIGIN": "https://portal.example"])
        defer { Task { await site.stop() } }
        let client = Client(serverURL: URL(string: site.baseURL + "/api/v1")!, transport: AsyncHTTPClientTransport())

        // Ranked search with a filter: the title match first.
        let found = try await client.searchInnovations(query: .init(q: "sapa warga", province: "35")).ok.body.json
        #expect(found.items.first?.globalId == "35:sw-surabaya-sapa-warga")
        #expect(found.items.allSatisfy { $0.province == "35" && $0.rank != nil })
        #expect(found.corrections == nil)
        // A mistyped word is searched as the term it most likely meant, and the page says so.
        let typo = try await client.searchInnovations(query: .init(q: "sapa warga surabya")).ok.body.json
        #expect(typo.items.first?.globalId == "35:sw-surabaya-sapa-warga")
        #expect(typo.corrections?.map(\.word) == ["surabya"] && typo.corrections?.first?.replacements.first == "surabaya")
        let fewer = try await client.searchInnovations(query: .init(q: "sapa warga zzzqqq")).ok.body.json
        #expect(fewer.leftOut == ["zzzqqq"] && fewer.items.contains { $0.globalId == "35:sw-surabaya-sapa-warga" })
        let puskesmas = try await client.searchInnovations(query: .init(q: "antrian online")).ok.body.json
        #expect(puskesmas.items.contains { $0.globalId == "35:\(RunningSite.hostileID)" })

        // Pages of 4 cover every live record once.
        let live = try CatalogueStore(path: site.catalogue, access: .readOnly).search(CatalogueQuery(limit: 100)).hits.count
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await client.searchInnovations(query: .init(limit: 4, cursor: cursor)).ok.body.json
            #expect(page.items.count <= 4)
            seen += page.items.map(\.globalId)
            cursor = page.nextCursor
        } while cursor != nil && seen.count <= live
        #expect(seen.count == live && Set(seen).count == live && seen == seen.sorted())
        let big = try await client.searchInnovations(query: .init(limit: 100)).ok.body.json
        #expect(big.items.count == live)

        // Detail: history with provenance, replications both ways.
        let origin = try await client.getInnovation(path: .init(globalId: "35:sw-surabaya-sapa-warga")).ok.body.json
        #expect(origin.innovation.title == "Sapa Warga Surabaya")
        #expect(origin.history.first?.hub == "35" && origin.history.first?.seq ?? 0 > 0 && origin.history.first?.messageId.isEmpty == false)
        #expect(origin.replicatedBy.map(\.globalId).contains { $0.hasPrefix("73:") })
        let copy = try await client.getInnovation(path: .init(globalId: origin.replicatedBy[0].globalId)).ok.body.json
        #expect(copy.replicates?.globalId == "35:sw-surabaya-sapa-warga")

        let hubs = try await client.listHubs().ok.body.json
        #expect(Set(hubs.hubs.map(\.hub)) == ["33", "35", "73"] && hubs.hubs.allSatisfy { $0.missingSeqs == 0 && !$0.epoch.isEmpty })
        let stats = try await client.getStats().ok.body.json
        #expect(stats.live == live && stats.byProvince.map(\.count).reduce(0, +) == live)
        #expect(stats.mostReplicated.contains { $0.innovation.globalId == "35:sw-surabaya-sapa-warga" })

        try await resultPages(client, live: live)
        let counted = try #require(try await client.searchInnovations(query: .init(q: "warga", counts: true)).ok.body.json.total)
        try commandLineSearch(site, counted: (counted.count, counted.exact))
        try await problemsAndCaching(site)
        try await exportsAndDocument(site, live: live)
        try await webPageEscapes(site)
        await site.stop()
    }

    func get(_ url: String, headers: [(String, String)] = [], method: NIOHTTP1.HTTPMethod = .GET) async throws
        -> (status: Int, headers: HTTPHeaders, body: String)
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return (Int(response.status.code), response.headers, String(buffer: body))
    }

    /// Totals and facets, snippets, orders and numbered pages, as the document describes them.
    func resultPages(_ client: Client, live: Int) async throws {
        let counted = try await client.searchInnovations(query: .init(q: "sapa warga", counts: true)).ok.body.json
        let total = try #require(counted.total)
        #expect(total.exact && total.count >= 1 && total.count <= live)
        let facets = try #require(counted.facets)
        #expect(facets.byProvince.map(\.count).reduce(0, +) == total.count && facets.byProvince.first?.label != nil)
        #expect(facets.byCategory.map(\.count).reduce(0, +) == total.count)
        // Without words or filters the total is the live catalogue's, from its summary.
        let everything = try await client.searchInnovations(query: .init(limit: 1, counts: true)).ok.body.json
        #expect(everything.total?.count == live && everything.total?.exact == true)
        #expect(try await client.searchInnovations(query: .init(q: "sapa warga")).ok.body.json.total == nil)
        // Snippets: the summary's words, the matched ones marked.
        let first = try #require(counted.items.first?.snippet)
        #expect(!first.isEmpty && first.contains { $0.match })
        #expect(everything.items.first?.snippet == nil)
        // Newest first, then a numbered page continues the same order.
        let newest = try await client.searchInnovations(query: .init(limit: 3, sort: .newest)).ok.body.json.items
        let dates = newest.map { $0.launchedOn ?? "" }
        #expect(dates == dates.sorted(by: >), "\(dates)")
        let second = try await client.searchInnovations(query: .init(limit: 3, sort: .newest, page: 2)).ok.body.json.items
        #expect(Set(second.map(\.globalId)).isDisjoint(with: newest.map(\.globalId)) && (second.first?.launchedOn ?? "") <= (dates.last ?? ""))
        let replicated = try await client.searchInnovations(query: .init(limit: 1, sort: .replicated)).ok.body.json.items
        let mostReplicated = try await client.getStats().ok.body.json.mostReplicated.first?.innovation.globalId
        #expect(replicated.first?.globalId == mostReplicated && mostReplicated != nil)
    }

    /// `jippnas catalogue search` offers the same counts and orders as the API.
    func commandLineSearch(_ site: RunningSite, counted: (count: Int, exact: Bool)) throws {
        let run = Subprocess.run([try ChildProcess.jippnasBinary(), "catalogue", "search", "warga", "--counts", "--sort", "newest",
                                  "--json", "--database", site.catalogue])
        #expect(run.status == 0, "\(run.output)")
        struct Printed: Decodable {
            var total: Int
            var total_exact: Bool
            var facets: [String: [String: Int]]
        }
        let printed = try JSONDecoder().decode(Printed.self, from: Data(run.output.utf8))
        #expect(printed.total == counted.count && printed.total_exact == counted.exact)
        #expect(printed.facets["province"]?.values.reduce(0, +) == printed.total)
        let bad = Subprocess.run([try ChildProcess.jippnasBinary(), "catalogue", "search", "--page", "0", "--database", site.catalogue])
        #expect(bad.status != 0 && bad.output.contains("--page"), "\(bad.output)")
    }

    func problemsAndCaching(_ site: RunningSite) async throws {
        let api = site.baseURL + "/api/v1"
        for (query, parameter) in [("category=kesehatann", "category"), ("limit=ten", "limit"), ("limit=-5", "limit"),
                                   ("limit=101", "limit"), ("limit=0", "limit"), ("province=99", "province"),
                                   ("cursor=bogus", "cursor"), ("launched_from=2022&launched_to=2020", "launched_from"),
                                   ("page=0", "page"), ("limit=10&page=101", "page"), ("page=999999999999999999", "page"),
                                   ("sort=oldest", "sort")] {
            let bad = try await get(api + "/innovations?" + query)
            #expect(bad.status == 400, "\(query)")
            #expect(bad.headers["Content-Type"].first?.hasPrefix("application/problem+json") == true)
            let problem = try JSONDecoder().decode(ProblemDocument.self, from: Data(bad.body.utf8))
            #expect(problem.parameter == parameter && problem.status == 400, "\(bad.body)")
        }
        let missing = try await get(api + "/innovations/35:no-such-thing")
        #expect(missing.status == 404 && missing.headers["Content-Type"].first?.hasPrefix("application/problem+json") == true)
        #expect(missing.body.contains("\"status\":404") || missing.body.contains("\"status\" : 404"))

        // Hostile search text is a plain search.
        for text in ["%22", "NEAR(", "a%22%20OR%20%22b", "*", "title%3Ax"] {
            #expect(try await get(api + "/innovations?q=" + text).status == 200, "\(text)")
        }

        let first = try await get(api + "/stats", headers: [("Origin", "https://portal.example")])
        let etag = try #require(first.headers["ETag"].first)
        #expect(first.headers["Cache-Control"].first == "public, max-age=10")
        #expect(first.headers["Access-Control-Allow-Origin"].first == "https://portal.example")
        let again = try await get(api + "/stats", headers: [("If-None-Match", etag)])
        #expect(again.status == 304 && again.body.isEmpty && again.headers["ETag"].first == etag)
        let other = try await get(api + "/stats", headers: [("If-None-Match", "\"something-else\"")])
        #expect(other.status == 200)
        // /hubs too: its ages are reckoned from when the cached hub states were read, not per request.
        let hubs = try await get(api + "/hubs")
        let hubsTag = try #require(hubs.headers["ETag"].first)
        #expect(try await get(api + "/hubs", headers: [("If-None-Match", hubsTag)]).status == 304)
        let preflight = try await get(api + "/innovations", headers: [("Origin", "https://portal.example"),
                                                                      ("Access-Control-Request-Method", "GET")], method: .OPTIONS)
        #expect(preflight.headers["Access-Control-Allow-Origin"].first == "https://portal.example", "\(preflight)")
    }

    func exportsAndDocument(_ site: RunningSite, live: Int) async throws {
        let api = site.baseURL + "/api/v1"
        let document = try await get(api + "/openapi.json")
        let file = try String(contentsOfFile: repositoryRoot + "/Sources/JippnasAPI/openapi.json", encoding: .utf8)
        #expect(document.status == 200 && document.body == file)
        let total = try CatalogueStore(path: site.catalogue, access: .readOnly).innovationCount()
        let ndjson = try await get(api + "/export.ndjson")
        #expect(ndjson.body.split(separator: "\n").count == total && total >= live)
        let csv = try await get(api + "/export.csv")
        #expect(csv.headers["Content-Type"].first?.hasPrefix("text/csv") == true)
        #expect(csv.body.hasPrefix("global_id,hub,id,revision,title"))
        // The markup title arrives quoted and, as it does not start a formula, unchanged.
        #expect(csv.body.contains(RunningSite.hostileTitle.replacingOccurrences(of: "\"", with: "\"\"")))
    }

    func webPageEscapes(_ site: RunningSite) async throws {
        let page = try await get(site.baseURL + "/?q=antrian")
        #expect(page.status == 200 && page.body.contains("lang=\"id\""))
        #expect(page.body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Layanan &lt;b&gt;Tebal&lt;/b&gt;"))
        #expect(!page.body.contains("<script>"))
        let detail = try await get(site.baseURL + "/inovasi/35:\(RunningSite.hostileID)")
        #expect(detail.status == 200 && !detail.body.contains("<script>") && !detail.body.contains("href=\"javascript:"))
        #expect(try await get(site.baseURL + "/inovasi/35:tidak-ada").status == 404)
        #expect(try await get(site.baseURL + "/?launched_from=abc").status == 400)
    }
}

/// RFC 9457 fields the tests read.
struct ProblemDocument: Decodable {
    var type: String
    var title: String
    var status: Int
    var detail: String?
    var parameter: String?
}
