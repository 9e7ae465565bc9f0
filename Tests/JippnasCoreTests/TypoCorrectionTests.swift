import JippnasCore
import Testing

@Suite("Typo correction")
struct TypoCorrectionTests {
    func d(_ a: String, _ b: String, limit: Int = 2) -> Int? {
        TypoCorrection.distance(Array(a.unicodeScalars), Array(b.unicodeScalars), limit: limit)
    }

    @Test("edits: a letter added, dropped, changed, or two neighbours swapped count one each")
    func distances() {
        #expect(d("puskesmaas", "puskesmas") == 1 && d("puskesms", "puskesmas") == 1)
        #expect(d("puskesmos", "puskesmas") == 1 && d("pusksemas", "puskesmas") == 1)
        #expect(d("pelayanan", "pelayanan") == 0 && d("", "abc", limit: 3) == 3)
        #expect(d("kependdukan", "kependudukan") == 1 && d("kpendudukn", "kependudukan") == 2)
        #expect(d("sampah", "sekolah") == nil, "beyond the limit is nil")
        #expect(d("a", "abcd", limit: 2) == nil)
    }

    @Test("short words are not corrected; five letters allow one edit, nine two")
    func allowances() {
        #expect(TypoCorrection.allowedEdits(forLength: 4) == 0)
        #expect(TypoCorrection.allowedEdits(forLength: 5) == 1 && TypoCorrection.allowedEdits(forLength: 8) == 1)
        #expect(TypoCorrection.allowedEdits(forLength: 9) == 2)
    }

    @Test("the nearest terms win, the most frequent first, at most three")
    func replacements() {
        let terms = [("puskesmas", 40), ("puskesmaa", 1), ("puskesmas2", 3), ("pusaka", 9), ("keliling", 5),
                     ("pusksmas", 2), ("buskesmas", 7), ("puskesmass", 1)].map { TypoCorrection.Term($0.0, documents: $0.1) }
        #expect(TypoCorrection.replacements(for: "puskesmaas", among: terms) == ["puskesmas", "puskesmaa", "puskesmass"])
        #expect(TypoCorrection.replacements(for: "pusksmsa", among: terms) == ["pusksmas"], "a swap is one edit")
        #expect(TypoCorrection.replacements(for: "pukssmsa", among: terms).isEmpty, "two edits for eight letters is too far")
        #expect(TypoCorrection.replacements(for: "puskesma", among: terms) == ["puskesmas", "puskesmaa"])
        #expect(TypoCorrection.replacements(for: "bank", among: terms).isEmpty, "four letters: no correction")
        #expect(TypoCorrection.replacements(for: "zzzzzz", among: terms).isEmpty)
    }
}
