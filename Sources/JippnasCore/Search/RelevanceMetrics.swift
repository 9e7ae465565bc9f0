import Foundation

/// How good a ranking is against judged results: the measures search engines are compared by.
public enum RelevanceMetrics {
    /// Normalised discounted cumulative gain over the first `k` results: gains of 2^grade − 1 discounted
    /// by log2 of the position + 1, divided by the same sum for the ideal order of the judged grades.
    /// 1 is a perfect top `k`; an unjudged result counts as grade 0.
    public static func ndcg(ranked: [String], grades: [String: Int], k: Int = 10) -> Double {
        func dcg(_ gains: [Int]) -> Double {
            gains.prefix(k).enumerated().reduce(0) { sum, item in
                sum + (pow(2, Double(item.element)) - 1) / log2(Double(item.offset) + 2)
            }
        }
        let ideal = dcg(grades.values.sorted(by: >))
        return ideal > 0 ? dcg(ranked.map { grades[$0] ?? 0 }) / ideal : 0
    }

    /// The share of the judged results (any grade above 0) found in the first `k`.
    public static func recall(ranked: [String], grades: [String: Int], k: Int = 10) -> Double {
        let relevant = Set(grades.filter { $0.value > 0 }.keys)
        guard !relevant.isEmpty else { return 0 }
        return Double(Set(ranked.prefix(k)).intersection(relevant).count) / Double(relevant.count)
    }
}
