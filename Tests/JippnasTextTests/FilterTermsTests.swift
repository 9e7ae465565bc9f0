import JippnasCore
import JippnasText
import Testing

@Suite("Filters as index terms")
struct FilterTermsTests {
    @Test("each filter becomes a term of the filters column; a short year range its years")
    func terms() {
        let q = CatalogueQuery(province: "35", region: "35.78", category: .tataKelolaPemerintahan, kind: .nonDigital, stage: .ujiCoba,
                               launchedFrom: 2020, launchedTo: 2021)
        let f = FilterTerms(q)
        let m = "\u{E000}"
        let required = #"("\#(m)p35" AND "\#(m)r3578" AND "\#(m)ctatakelolapemerintahan" AND "\#(m)knondigital" AND "\#(m)sujicoba" AND ("\#(m)y2020" OR "\#(m)y2021"))"#
        #expect(f.required == required)
        #expect(f.excluded == #"("\#(m)w1")"# && f.isComplete)
        #expect(f.narrowing("x") == "((x) AND \(required)) NOT (\"\(m)w1\")")
        let only = FilterTerms(CatalogueQuery(withdrawn: .only))
        #expect(only.required == #"("\#(m)w1")"# && only.excluded == nil)
        #expect(FilterTerms(CatalogueQuery(withdrawn: .include)).narrowing("x") == "x")
    }

    @Test("filters the index cannot hold leave the set incomplete, to be tested per record")
    func incomplete() {
        #expect(!FilterTerms(CatalogueQuery(replicates: "35:a")).isComplete)
        #expect(!FilterTerms(CatalogueQuery(launchedFrom: 2020)).isComplete)
        #expect(!FilterTerms(CatalogueQuery(launchedFrom: 1900, launchedTo: 2024)).isComplete)
    }
}
