import Foundation
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

@Suite("Search relevance")
struct RelevanceTests {
    let dir = TempDir("relevance")

    /// The floors: what search reached on Tests/Relevance when they were set (docs/CATALOGUE.md); a change
    /// that ranks worse fails here, one that ranks better should raise them.
    static let ndcgFloor = 0.86
    static let recallFloor = 0.73

    @Test("nDCG@10 and recall@10 over the judged queries stay at or above their floors")
    func relevanceHoldsItsFloor() throws {
        let set = try RelevanceSet.load(directory: repositoryRoot + "/Tests/Relevance")
        #expect(set.queries.count >= 60 && set.records.count >= 60)
        let report = try RelevanceReport.evaluate(set, catalogueAt: dir.file("relevance.sqlite"))
        print(report.table)
        for miss in report.misses { print(String(format: "%.3f", miss.ndcg), miss.query, miss.top.joined(separator: " ")) }
        #expect(report.overall.ndcg >= Self.ndcgFloor && report.overall.recall >= Self.recallFloor)
    }

    @Test("nDCG and recall: a perfect order scores 1, unjudged results 0, a later position less")
    func metrics() {
        let grades = ["a": 2, "b": 1, "c": 1]
        #expect(RelevanceMetrics.ndcg(ranked: ["a", "b", "c"], grades: grades) == 1)
        #expect(RelevanceMetrics.ndcg(ranked: ["x", "y"], grades: grades) == 0)
        #expect(RelevanceMetrics.ndcg(ranked: ["b", "a", "c"], grades: grades) < 1)
        #expect(RelevanceMetrics.recall(ranked: ["a", "x"], grades: grades) == 1.0 / 3)
        #expect(RelevanceMetrics.recall(ranked: Array(repeating: "x", count: 10) + ["a"], grades: grades) == 0)
    }
}
