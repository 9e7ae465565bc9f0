import Foundation
import JippnasCore

/// The catalogue's export formats, one record at a time so that any size streams in flat memory.
public enum CatalogueExport {
    public enum Format: String, Sendable, CaseIterable {
        case csv, ndjson, dcat
    }

    /// CSV columns, in order.
    public static let csvHeader = [
        "global_id", "hub", "id", "revision", "title", "agency", "region", "category", "kind", "stage", "initiator",
        "launched_on", "status", "replicates", "summary", "benefits", "contact", "url", "updated_at", "withdrawn",
        "withdrawn_at", "received_at", "hub_epoch",
    ]

    /// One CSV line for `entry`: RFC 4180 quoting, but lines end with `\n` (as spreadsheets and Unix
    /// tools read them) rather than CRLF.
    public static func csvLine(_ entry: CatalogueEntry) -> String {
        let i = entry.innovation
        let fields: [String?] = [
            entry.globalID, entry.hub, i.id, String(i.revision), i.title, i.agency, i.region, i.category.rawValue,
            i.kind.rawValue, i.stage.rawValue, i.initiator?.rawValue, i.launchedOn, i.status.rawValue, i.replicates,
            i.summary, i.benefits, i.contact, i.url, i.updatedAt, entry.withdrawn ? "true" : "false", entry.withdrawnAt,
            entry.receivedAt, entry.hubEpoch,
        ]
        return csvLine(fields.map { $0 ?? "" })
    }

    /// The header or any row of plain cells as one CSV line.
    public static func csvLine(_ cells: [String]) -> String {
        cells.map { csvCell($0) }.joined(separator: ",") + "\n"
    }

    /// A cell quoted when it must be, and neutralised when a spreadsheet would run it as a formula.
    ///
    /// Titles and summaries come from hub operators, so a cell beginning `=`, `+`, `-`, `@`, a tab or a
    /// carriage return gets a leading `'` (OWASP's advice for CSV injection): shown as text, never run.
    /// Written by hand rather than with CSV.swift's writer, which issues one write per byte.
    public static func csvCell(_ value: String) -> String {
        var cell = value
        if let first = cell.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { cell = "'" + cell }
        guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One NDJSON line: the entry as `jippnas catalogue show --json` prints it, keys sorted.
    public static func ndjsonLine(_ entry: CatalogueEntry, encoder: JSONEncoder) throws -> Data {
        var line = try encoder.encode(entry)
        line.append(0x0A)
        return line
    }

    /// The encoder ``ndjsonLine(_:encoder:)`` expects: one line, keys sorted, slashes left alone.
    public static func ndjsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A DCAT-AP style JSON-LD description of the catalogue as a dataset, with its distributions (the
    /// exports and the API under `baseURL`).
    public static func dcat(facets: CatalogueFacets, modified: String?, baseURL: String) throws -> Data {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let years = facets.byYear.keys.sorted()
        func distribution(_ id: String, _ title: String, _ url: String, _ mediaType: String, _ format: String) -> [String: Any] {
            ["@id": "\(base)\(url)#distribution", "@type": "dcat:Distribution", "dct:title": title,
             "dcat:accessURL": ["@id": "\(base)\(url)"], "dcat:downloadURL": ["@id": "\(base)\(url)"],
             "dcat:mediaType": ["@id": "https://www.iana.org/assignments/media-types/\(mediaType)"],
             "dct:format": ["@id": "http://publications.europa.eu/resource/authority/file-type/\(format)"],
             "dct:identifier": id]
        }
        var dataset: [String: Any] = [
            "@id": "\(base)/#dataset", "@type": "dcat:Dataset",
            "dct:title": [["@language": "id", "@value": "Katalog Nasional Inovasi Pelayanan Publik (JIPPNas)"],
                          ["@language": "en", "@value": "National catalogue of public-service innovations (JIPPNas)"]],
            "dct:description": [["@language": "id", "@value":
                "Inovasi pelayanan publik dari hub inovasi provinsi, dihimpun oleh agregator nasional JIPPNas."]],
            "dct:publisher": ["@type": "foaf:Agent", "foaf:name": "KemenPANRB, BSKDN Kemendagri dan LAN"],
            "dct:spatial": ["@id": "http://publications.europa.eu/resource/authority/country/IDN"],
            "dct:language": ["@id": "http://publications.europa.eu/resource/authority/language/IND"],
            "dcat:keyword": Category.allCases.map(\.indonesianName),
            "dcat:theme": ["@id": "http://publications.europa.eu/resource/authority/data-theme/GOVE"],
            "dcat:landingPage": ["@id": "\(base)/"],
            "dcat:distribution": [
                distribution("csv", "Ekspor CSV", "/api/v1/export.csv", "text/csv", "CSV"),
                distribution("ndjson", "Ekspor NDJSON", "/api/v1/export.ndjson", "application/x-ndjson", "JSON"),
                distribution("api", "API JSON (OpenAPI)", "/api/v1/openapi.json", "application/vnd.oai.openapi+json", "JSON"),
            ],
            "jippnas:liveInnovations": facets.live,
            "jippnas:withdrawnInnovations": facets.withdrawn,
        ]
        if let modified { dataset["dct:modified"] = ["@value": modified, "@type": "xsd:dateTime"] }
        if let first = years.first, let last = years.last {
            dataset["dct:temporal"] = ["@type": "dct:PeriodOfTime", "dcat:startDate": first, "dcat:endDate": last]
        }
        let document: [String: Any] = [
            "@context": [
                "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
                "xsd": "http://www.w3.org/2001/XMLSchema#", "jippnas": "\(base)/ns#",
            ],
            "@graph": [
                ["@id": "\(base)/#catalog", "@type": "dcat:Catalog", "dct:title": "JIPPNas", "dcat:dataset": ["@id": "\(base)/#dataset"]],
                dataset,
            ],
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
