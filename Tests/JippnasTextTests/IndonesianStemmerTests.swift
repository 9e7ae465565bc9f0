import JippnasCore
import JippnasText
import Testing

@Suite("Indonesian stems")
struct IndonesianStemmerTests {
    let stemmer = IndonesianStemmer.shared

    /// Forms an officer types and the forms titles use: each pair must share a stem.
    static let related: [(String, String)] = [
        ("layan", "pelayanan"), ("layanan", "pelayanan"), ("daftar", "pendaftaran"), ("mendaftar", "pendaftaran"),
        ("izin", "perizinan"), ("kelola", "pengelolaan"), ("cegah", "pencegahan"), ("tangani", "penanganan"),
        ("penduduk", "kependudukan"), ("bayar", "pembayaran"), ("sehat", "kesehatan"), ("lapor", "pelaporan"),
        ("aduan", "pengaduan"), ("padu", "terpadu"), ("daya", "pemberdayaan"), ("lahir", "kelahiran"),
        ("sampah", "persampahan"), ("didik", "pendidikan"), ("latih", "pelatihan"), ("olah", "pengolahan"),
        ("perizinan", "perizinannya"), ("tani", "pertanian"), ("bangun", "pembangunan"), ("terbit", "penerbitan"),
    ]

    /// Roots Snowball alone would cut into other words (digital → gital), and words that are not related.
    static let apart: [(String, String)] = [
        ("digital", "gital"), ("keliling", "liling"), ("pangan", "pang"), ("dinas", "nas"), ("desa", "des"),
    ]

    @Test("related forms share a stem", arguments: related)
    func relatedFormsMeet(pair: (String, String)) {
        let (a, b) = (Set(stemmer.stems(pair.0)), Set(stemmer.stems(pair.1)))
        #expect(!a.isDisjoint(with: b), "\(pair.0) → \(a.sorted()), \(pair.1) → \(b.sorted())")
    }

    @Test("roots stay whole and unrelated words stay apart", arguments: apart)
    func rootsStayWhole(pair: (String, String)) {
        #expect(stemmer.stems(pair.0).contains(pair.0))
        #expect(Set(stemmer.stems(pair.0)).isDisjoint(with: stemmer.stems(pair.1)))
    }

    @Test("the dictionary is Debian's hunspell-id, and the fingerprint names it")
    func dictionaryLoaded() {
        #expect(stemmer.hasDictionary, "install hunspell-id: without it only Snowball's stems are found")
        #expect(stemmer.fingerprint.contains("hunspell-id"))
    }

    @Test("numbers, short words and unknown names are their own stems; Snowball stems words the dictionary lacks")
    func fallbacks() {
        #expect(stemmer.stems("2024") == ["2024"] && stemmer.stems("ktp") == ["ktp"] && stemmer.stems("di") == ["di"])
        #expect(stemmer.stems("kemendagri") == ["mendagri"], "unknown to the dictionary: Snowball's stem")
        #expect(stemmer.stems("surabaya") == ["surabaya"], "a name the dictionary holds capitalised stays whole")
        #expect(IndonesianStemmer(affixPath: "/nonexistent.aff", dictionaryPath: "/nonexistent.dic").fingerprint.contains("snowball only"))
        let snowballOnly = IndonesianStemmer(affixPath: "/nonexistent.aff", dictionaryPath: "/nonexistent.dic")
        #expect(snowballOnly.stems("pendaftaran") == snowballOnly.stems("mendaftar"))
    }

    @Test("a text's stems: every word once, accents and case folded as the index folds them")
    func stemText() {
        #expect(stemmer.stemText("Pelayanan Perizinan, layanan IZIN") == "layan izin")
        #expect(SearchText.words("Café  Ümkm-2024") == ["cafe", "umkm", "2024"])
    }

    @Test("numbers, short words and overlong runs are their own stem")
    func ownStems() {
        let long = String(repeating: "pelayanan", count: 8)
        for word in ["2024", "ab", "e2e", "\u{0661}\u{0662}\u{0663}", long] {
            #expect(stemmer.stems(word) == [word], "\(word)")
        }
        #expect(stemmer.stems("pelayanan") == ["layan"] && stemmer.stems("pélayanan").count == 1)
    }
}
