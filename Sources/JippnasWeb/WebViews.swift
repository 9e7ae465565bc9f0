import Foundation
import JippnasCore
import JippnasStore
import JippnasText

/// Escapes text for a double-quoted HTML attribute one Unicode scalar at a time. Mustache escapes whole
/// characters (grapheme clusters), and a `"` followed by a combining mark is one character that is not
/// `"`, so it would pass unescaped and close the attribute; the form's echoed values go through here and
/// are written with `{{{ }}}`.
enum HTMLAttribute {
    static func escape(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// What the search template shows. Property names are the template's.
struct SearchPageView {
    struct Option {
        var value: String
        var label: String
        var selected: Bool
    }

    struct ProvinceOption {
        var code: String
        var name: String
        var selected: Bool
    }

    struct Hit {
        var globalID: String
        var title: String
        var withdrawn: Bool
        var province: String
        var region: String
        var category: String
        var stage: String
        var launched: String?
        var updated: String
        var agency: String
        var snippet: [Highlighter.Segment]
        var hasSnippet: Bool
    }

    /// Already escaped (``HTMLAttribute``): the template writes them with `{{{ }}}`.
    var q: String
    var launchedFrom: String
    var launchedTo: String
    var provinces: [ProvinceOption]
    var categories: [Option]
    var stages: [Option]
    var kinds: [Option]
    struct Correction {
        var word: String
        var replacements: String
    }

    var heading = "Inovasi"
    /// Mistyped words and what was searched instead ("Menampilkan hasil untuk …").
    var corrections: [Correction] = []
    var corrected = false
    /// A word no innovation holds with the others, searched without ("… tanpa kata …"); nil when none.
    var leftOut: String?
    var hits: [Hit] = []
    var next: String?
    var error: String?
    var sorts: [Option]
    /// Page links around the current page ("1 … 4 5 6 … 50"), and the neighbours.
    var pages: [PageLink] = []
    var previous: String?
    var hasPages = false
    /// What the matches hold, by filter, each value a link that applies it.
    var facets: [FacetGroup] = []
    var hasFacets = false
    var chart = Chart(byProvince: [:])
    var hubs: [HubRow] = []
    var replication = Replication()

    init(values: [String: String]) {
        q = HTMLAttribute.escape(values["q"] ?? "")
        launchedFrom = HTMLAttribute.escape(values["launched_from"] ?? "")
        launchedTo = HTMLAttribute.escape(values["launched_to"] ?? "")
        provinces = ProvinceRegistry.all.map { ProvinceOption(code: $0.code, name: $0.name, selected: values["province"] == $0.code) }
        categories = Category.allCases.map { Option(value: $0.rawValue, label: Labels.category($0), selected: values["category"] == $0.rawValue) }
        stages = Stage.allCases.map { Option(value: $0.rawValue, label: Labels.stage($0), selected: values["stage"] == $0.rawValue) }
        kinds = InnovationKind.allCases.map { Option(value: $0.rawValue, label: Labels.kind($0), selected: values["kind"] == $0.rawValue) }
        sorts = SearchSort.allCases.map { Option(value: $0.rawValue, label: Labels.sort($0), selected: (values["sort"] ?? "relevance") == $0.rawValue) }
    }

    mutating func show(_ page: SearchPage, query: CatalogueQuery, values: [String: String]) {
        hits = page.hits.map { hit in
            let i = hit.entry.innovation
            let zone = IndonesianTime.zone(of: hit.entry.hub)
            return Hit(globalID: hit.entry.globalID, title: i.title, withdrawn: hit.entry.withdrawn,
                       province: Labels.province(hit.entry.hub), region: i.region, category: Labels.category(i.category),
                       stage: Labels.stage(i.stage), launched: i.launchedOn.map(IndonesianTime.date),
                       updated: IndonesianTime.dateTime(i.updatedAt, zone: zone), agency: i.agency,
                       snippet: hit.snippet ?? [], hasSnippet: !(hit.snippet ?? []).isEmpty)
        }
        corrections = page.corrections.map { Correction(word: $0.word, replacements: $0.replacements.joined(separator: " / ")) }
        corrected = !corrections.isEmpty
        leftOut = page.leftOut.isEmpty ? nil : page.leftOut.joined(separator: ", ")
        let what = query.isRanked ? "Hasil pencarian" : "Semua inovasi"
        if let counts = page.counts {
            heading = "\(what): " + (counts.exact ? "\(Labels.number(counts.total)) inovasi" : "lebih dari \(Labels.number(counts.total)) inovasi")
            showFacets(counts, values: values)
            showPages(total: counts.total, exact: counts.exact, query: query, values: values)
        } else {
            heading = "\(what) (\(hits.count == query.limit && page.next != nil ? "\(hits.count)+" : "\(hits.count)"))"
        }
        if let next = page.next, query.page == nil, !hasPages {
            self.next = Self.link(values, ["cursor": next.token, "page": nil])
        }
    }

    /// This page's address with some values changed (nil removes one).
    static func link(_ values: [String: String], _ changes: [String: String?]) -> String {
        var merged = values
        for (name, value) in changes { merged[name] = value }
        var components = URLComponents()
        components.path = "/"
        components.queryItems = merged.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            .map { URLQueryItem(name: $0.key, value: $0.value) }
        // `+` in a value would read back as a space: a form's decoding, which formValues follows.
        return (components.string ?? "/").replacingOccurrences(of: "+", with: "%2B")
    }
}

/// A link to one page of results.
struct PageLink {
    var number: Int
    var href: String
    var current: Bool
    /// A gap ("…") stands before this link.
    var gapBefore: Bool
}

/// One filter's counts among the matches.
struct FacetGroup {
    struct Value {
        var label: String
        var count: String
        var href: String
        var selected: Bool
    }

    var name: String
    var values: [Value]
}

extension SearchPageView {
    /// Counts beside each filter's options, and the five largest values of each filter as links.
    mutating func showFacets(_ counts: SearchCounts, values: [String: String]) {
        func label(_ option: inout Option, _ byValue: [String: Int]) { option.label += " (\(Labels.number(byValue[option.value] ?? 0)))" }
        for index in provinces.indices { provinces[index].name += " (\(Labels.number(counts.byProvince[provinces[index].code] ?? 0)))" }
        for index in categories.indices { label(&categories[index], counts.byCategory) }
        for index in stages.indices { label(&stages[index], counts.byStage) }
        for index in kinds.indices { label(&kinds[index], counts.byKind) }
        func group(_ name: String, _ parameter: String, _ byValue: [String: Int], _ title: (String) -> String) -> FacetGroup {
            let top = byValue.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5)
            return FacetGroup(name: name, values: top.map { key, count in
                let selected = parameter == "year"
                    ? values["launched_from"] == key && values["launched_to"] == key : values[parameter] == key
                let changes: [String: String?] = parameter == "year"
                    ? ["launched_from": key, "launched_to": key, "page": nil, "cursor": nil]
                    : [parameter: selected ? nil : key, "page": nil, "cursor": nil]
                return .init(label: title(key), count: Labels.number(count), href: Self.link(values, changes), selected: selected)
            })
        }
        facets = [
            group("Provinsi", "province", counts.byProvince, Labels.province),
            group("Kategori", "category", counts.byCategory) { Category(rawValue: $0).map(Labels.category) ?? $0 },
            group("Tahapan", "stage", counts.byStage) { Stage(rawValue: $0).map(Labels.stage) ?? $0 },
            group("Jenis", "kind", counts.byKind) { InnovationKind(rawValue: $0).map(Labels.kind) ?? $0 },
            group("Tahun", "year", counts.byYear) { $0 },
        ].filter { !$0.values.isEmpty }
        hasFacets = !facets.isEmpty
    }

    /// Numbered pages within the first ``CatalogueQuery/maximumPageDepth`` results: the first, the last,
    /// and two on each side of the current one.
    mutating func showPages(total: Int, exact: Bool, query: CatalogueQuery, values: [String: String]) {
        let reachable = min(total, CatalogueQuery.maximumPageDepth)
        let last = max(1, min((reachable + query.limit - 1) / query.limit, CatalogueQuery.maximumPage(limit: query.limit)))
        let current = min(query.page ?? 1, last)
        guard last > 1 else { return }
        let shown = Set([1, last] + ((current - 2)...(current + 2)).filter { (1...last).contains($0) }).sorted()
        var previousNumber = 0
        pages = shown.map { number in
            defer { previousNumber = number }
            return PageLink(number: number, href: Self.link(values, ["page": "\(number)", "cursor": nil]), current: number == current,
                            gapBefore: number > previousNumber + 1 && previousNumber > 0)
        }
        if current > 1 { previous = Self.link(values, ["page": "\(current - 1)", "cursor": nil]) }
        if current < last { next = Self.link(values, ["page": "\(current + 1)", "cursor": nil]) }
        hasPages = true
    }
}

/// The replication ranking (replikasi): the most replicated innovations, and the provinces that replicate most.
struct Replication {
    struct Top {
        var globalID: String
        var title: String
        var region: String
        var count: Int
    }

    struct Province {
        var name: String
        var count: Int
    }

    var top: [Top] = []
    var provinces: [Province] = []
    var any = false

    init() {}

    init(_ facets: CatalogueFacets) {
        top = facets.mostReplicated.map { Top(globalID: $0.innovation.globalID, title: $0.innovation.title, region: $0.innovation.region,
                                              count: $0.replications) }
        provinces = facets.replicatingProvinces.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(10)
            .map { Province(name: Labels.province($0.key), count: $0.value) }
        any = !top.isEmpty
    }
}

/// A horizontal bar chart of live innovations per province, laid out here and drawn as inline SVG.
struct Chart {
    struct Bar {
        var label: String
        var count: Int
        var y: Int
        var width: Int
        var countX: Int
    }

    let labelWidth = 130
    let barSpace = 240
    let rowHeight = 20
    var bars: [Bar]
    // Stored, as everything a template reads (Mustache sees stored properties only).
    let width: Int
    let height: Int

    init(byProvince counts: [String: Int]) {
        let sorted = counts.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let largest = max(sorted.first?.value ?? 1, 1)
        var bars: [Bar] = []
        for (n, (code, count)) in sorted.enumerated() {
            let width = max(1, count * barSpace / largest)
            bars.append(Bar(label: Labels.province(code), count: count, y: n * rowHeight, width: width,
                            countX: labelWidth + width + 6))
        }
        self.bars = bars
        width = labelWidth + barSpace + 50
        height = max(bars.count * rowHeight, rowHeight)
    }
}

/// One hub's freshness, as the table shows it.
struct HubRow {
    var code: String
    var name: String
    var lastMessageAt: String
    var lag: String
    var lagClass: String
    var lastCheckpointAt: String
    var missing: String
    var live: Int

    init(_ hub: HubState) {
        code = hub.hub
        name = Labels.province(hub.hub)
        lastMessageAt = IndonesianTime.dateTime(hub.lastMessageAt, zone: IndonesianTime.zone(of: hub.hub))
        let seconds = Timestamp.parse(hub.lastMessageAt).map { Int(Date().timeIntervalSince($0)) }
        lag = seconds.map(Self.describe) ?? "-"
        // A hub checkpoints every few minutes even when idle; an hour of silence is worth a look.
        lagClass = (seconds ?? 0) > 3600 ? "late" : ""
        lastCheckpointAt = hub.lastCheckpointAt.map { IndonesianTime.dateTime($0, zone: IndonesianTime.zone(of: hub.hub)) } ?? "belum ada"
        missing = hub.highestSeq > hub.contiguousSeq ? "\(hub.highestSeq - hub.contiguousSeq)" : "0"
        live = hub.live
    }

    static func describe(_ seconds: Int) -> String {
        switch max(seconds, 0) {
        case ..<60: "\(max(seconds, 0)) detik lalu"
        case ..<3600: "\(seconds / 60) menit lalu"
        case ..<86400: "\(seconds / 3600) jam lalu"
        default: "\(seconds / 86400) hari lalu"
        }
    }
}

/// What the detail template shows.
struct DetailView {
    struct Field {
        var name: String
        var value: String
    }

    struct Revision {
        var revision: Int64
        var event: String
        var hub: String
        var epoch: String
        var seq: Int64
        var sentAt: String
        var receivedAt: String
        var messageID: String
    }

    struct Related {
        var globalID: String
        var title: String
        var region: String
        var stage: String
        var withdrawn: Bool
    }

    var title: String
    var withdrawn: Bool
    var withdrawnAt: String
    var orphanedAt: String?
    var fields: [Field]
    /// Only http(s) addresses become links: a hub could send `javascript:`.
    var url: String?
    var replicates: Related?
    var replicatedBy: [Related]
    /// Stored, not computed: Mustache reads values by reflection, which sees stored properties only.
    var hasReplicatedBy: Bool
    var history: [Revision]
    /// Who published the latest revision first and who relayed it (the provenance chain), in order.
    var provenance: [Hop] = []

    struct Hop {
        var role: String
        var hub: String
        var name: String
        var seq: Int64
        var keyID: String
    }

    init(_ detail: InnovationDetail, provenance hops: [ProvenanceHop] = []) {
        provenance = hops.enumerated().map { index, hop in
            let province = Labels.province(HubCode.province(of: hop.hub))
            return Hop(role: index == 0 ? "diterbitkan oleh" : "diteruskan oleh", hub: hop.hub,
                       name: HubCode.isRegional(hop.hub) ? "kabupaten/kota di \(province)" : province, seq: hop.seq,
                       keyID: hop.keyID ?? "tanpa tanda tangan")
        }
        let e = detail.entry
        let i = e.innovation
        let zone = IndonesianTime.zone(of: e.hub)
        func local(_ instant: String) -> String { IndonesianTime.dateTime(instant, zone: zone) }
        title = i.title
        withdrawn = e.withdrawn
        withdrawnAt = e.withdrawnAt.map(local) ?? ""
        orphanedAt = e.orphanedAt.map(local)
        let all: [(String, String?)] = [
            ("Kode", e.globalID), ("Provinsi (hub)", "\(e.hub) \(Labels.province(e.hub))"), ("Instansi", i.agency),
            ("Wilayah", i.region), ("Kategori", Labels.category(i.category)), ("Jenis", Labels.kind(i.kind)),
            ("Tahapan", Labels.stage(i.stage)), ("Inisiator", i.initiator.map(Labels.initiator)),
            ("Diluncurkan", i.launchedOn.map(IndonesianTime.date)), ("Status", Labels.status(i.status)), ("Ringkasan", i.summary),
            ("Manfaat", i.benefits), ("Kontak", i.contact), ("Revisi", "\(i.revision), diperbarui \(local(i.updatedAt))"),
        ]
        fields = all.compactMap { name, value in value.map { Field(name: name, value: $0) } }
        url = i.url.flatMap { URL(string: $0) }.flatMap { ["http", "https"].contains($0.scheme?.lowercased() ?? "") ? $0.absoluteString : nil }
        if url == nil, let raw = i.url { fields.append(Field(name: "Tautan", value: raw)) }
        func related(_ r: RelatedInnovation) -> Related {
            Related(globalID: r.globalID, title: r.title, region: r.region, stage: Labels.stage(r.stage), withdrawn: r.withdrawn)
        }
        replicates = detail.replicates.map(related)
        replicatedBy = detail.replicatedBy.map(related)
        hasReplicatedBy = !replicatedBy.isEmpty
        history = detail.history.map {
            Revision(revision: $0.revision, event: $0.event == "withdraw" ? "ditarik" : "diperbarui", hub: $0.hub,
                     epoch: $0.hubEpoch.isEmpty ? "-" : String($0.hubEpoch.prefix(8)), seq: $0.seq, sentAt: local($0.sentAt),
                     receivedAt: local($0.receivedAt), messageID: $0.messageID)
        }
    }
}
