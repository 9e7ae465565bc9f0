import Foundation
import JippnasCore

/// A fixed catalogue and the queries an officer would type over it, each with judged results
/// (Tests/Relevance): what `scripts/bench search` scores search by, and a test keeps from getting worse.
public struct RelevanceSet: Sendable {
    public struct Query: Sendable {
        public var text: String
        /// What the query tries: `affix`, `root`, `abbreviation`, `typo`, `multi`, `phrase`, `exclusion`.
        public var kind: String
        /// Global id → grade: 2 on the topic, 1 related.
        public var grades: [String: Int]
    }

    public var records: [InnovationContent]
    public var provinces: [String: String]
    public var queries: [Query]

    /// Reads `records.tsv` and `queries.tsv` of `directory`; lines starting with `#` are comments.
    public static func load(directory: String) throws -> RelevanceSet {
        var set = RelevanceSet(records: [], provinces: [:], queries: [])
        for fields in try rows(directory + "/records.tsv") {
            guard fields.count == 6, let category = Category(rawValue: fields[2]) else {
                throw RelevanceError(message: "records.tsv: a record needs id, province, category, title, agency, summary: \(fields)")
            }
            set.provinces[fields[0]] = fields[1]
            set.records.append(InnovationContent(
                id: fields[0], title: fields[3], agency: fields[4], region: fields[1] + ".71", category: category,
                kind: .digital, stage: .penerapan, summary: fields[5]))
        }
        for fields in try rows(directory + "/queries.tsv") {
            guard fields.count == 3 else { throw RelevanceError(message: "queries.tsv: query, kind, judgements: \(fields)") }
            var grades: [String: Int] = [:]
            for judgement in fields[2].split(separator: " ") {
                let parts = judgement.split(separator: "=").map(String.init)
                guard parts.count == 2, let grade = Int(parts[1]), let province = set.provinces[parts[0]] else {
                    throw RelevanceError(message: "queries.tsv: '\(judgement)' of '\(fields[0])' names no record as id=grade")
                }
                grades[province + ":" + parts[0]] = grade
            }
            set.queries.append(Query(text: fields[0], kind: fields[1], grades: grades))
        }
        return set
    }

    private static func rows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }
}

/// A relevance set file that cannot be read as one, naming the line.
public struct RelevanceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// nDCG@10 and recall@10 of a relevance set, in all and by kind of query.
public struct RelevanceReport: Sendable {
    /// The mean nDCG@10 and recall@10 of some queries.
    public struct Score: Sendable {
        public var queries = 0
        public var ndcg = 0.0
        public var recall = 0.0
    }

    public var overall = Score()
    public var byKind: [String: Score] = [:]
    /// Queries below a perfect nDCG, with what they returned: where to look first.
    public var misses: [(query: String, ndcg: Double, top: [String])] = []

    /// Builds the set's catalogue at `path` (through the catalogue's own apply) and runs every query.
    public static func evaluate(_ set: RelevanceSet, catalogueAt path: String) throws -> RelevanceReport {
        let store = try CatalogueStore(path: path)
        let changes = set.records.enumerated().map { n, content in
            let envelope = Envelope(hub: set.provinces[content.id] ?? "35", seq: Int64(n + 1), event: .upsert,
                                    sentAt: "2026-12-01T00:00:00Z",
                                    innovation: content.innovation(revision: 1, updatedAt: "2026-12-01T00:00:00Z"))
            return IncomingChange(envelope: envelope, messageID: "relevance-\(n)", routingKey: envelope.routingKey,
                                  body: EnvelopeCodec.encode(envelope))
        }
        _ = try store.apply(changes)
        // The vocabulary in memory decides how a last word completes; read it first, as a running server
        // has, so the score does not depend on when a background read finishes.
        _ = try store.vocabularyTerms(wait: true)
        var report = RelevanceReport()
        for query in set.queries {
            let ranked = try store.search(CatalogueQuery(text: query.text, limit: 10).validated()).hits.map(\.entry.globalID)
            let ndcg = RelevanceMetrics.ndcg(ranked: ranked, grades: query.grades)
            let recall = RelevanceMetrics.recall(ranked: ranked, grades: query.grades)
            report.add(ndcg: ndcg, recall: recall, kind: query.kind)
            if ndcg < 0.999 { report.misses.append((query.text, ndcg, ranked)) }
        }
        return report
    }

    mutating func add(ndcg: Double, recall: Double, kind: String) {
        for key in [nil, kind] as [String?] {
            var score = key.map { byKind[$0] ?? Score() } ?? overall
            score.queries += 1
            score.ndcg += (ndcg - score.ndcg) / Double(score.queries)
            score.recall += (recall - score.recall) / Double(score.queries)
            if let key { byKind[key] = score } else { overall = score }
        }
    }

    /// A Markdown table: a row per kind of query (`queries | kind | nDCG@10 | recall@10`), then all.
    public var table: String {
        var lines = ["| queries | kind | nDCG@10 | recall@10 |", "|---:|---|---:|---:|"]
        func figure(_ value: Double) -> String { String(format: "%.3f", value) }
        for (kind, score) in byKind.sorted(by: { $0.key < $1.key }) {
            lines.append("| \(score.queries) | \(kind) | \(figure(score.ndcg)) | \(figure(score.recall)) |")
        }
        lines.append("| \(overall.queries) | **all** | **\(figure(overall.ndcg))** | **\(figure(overall.recall))** |")
        return lines.joined(separator: "\n")
    }
}
