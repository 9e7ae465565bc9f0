import JippnasCore

/// The abbreviations of Indonesian public services that officers type and titles spell out, or the other
/// way round: *adminduk* is *administrasi kependudukan*, *puskesmas* a *pusat kesehatan masyarakat*.
///
/// A query word that is an abbreviation also matches its expansions as phrases; a run of query words that
/// is an expansion also matches the abbreviation. Lowercase, words as ``SearchText/words(_:)`` cuts them.
public enum Abbreviations {
    /// Abbreviation → what it stands for, one or more spellings.
    public static let expansions: [String: [String]] = [
        "adminduk": ["administrasi kependudukan"],
        "dukcapil": ["kependudukan dan pencatatan sipil", "disdukcapil"],
        "disdukcapil": ["kependudukan dan pencatatan sipil", "dukcapil"],
        "ktp": ["kartu tanda penduduk"],
        "ektp": ["ktp elektronik", "kartu tanda penduduk elektronik"],
        "kk": ["kartu keluarga"],
        "kia": ["kartu identitas anak"],
        "puskesmas": ["pusat kesehatan masyarakat"],
        "posyandu": ["pos pelayanan terpadu"],
        "rsud": ["rumah sakit umum daerah"],
        "bpjs": ["badan penyelenggara jaminan sosial"],
        "jkn": ["jaminan kesehatan nasional"],
        "bumil": ["ibu hamil"],
        "lansia": ["lanjut usia"],
        "umkm": ["usaha mikro kecil dan menengah", "usaha mikro kecil menengah", "usaha mikro"],
        "ukm": ["usaha kecil dan menengah", "usaha kecil menengah"],
        "kur": ["kredit usaha rakyat"],
        "bumdes": ["badan usaha milik desa"],
        "nib": ["nomor induk berusaha"],
        "ptsp": ["pelayanan terpadu satu pintu"],
        "mpp": ["mal pelayanan publik"],
        "ppdb": ["penerimaan peserta didik baru"],
        "pbb": ["pajak bumi dan bangunan", "pajak bumi bangunan"],
        "samsat": ["sistem administrasi manunggal satu atap"],
        "sim": ["surat izin mengemudi"],
        "stnk": ["surat tanda nomor kendaraan"],
        "bansos": ["bantuan sosial"],
        "dtks": ["data terpadu kesejahteraan sosial"],
        "asn": ["aparatur sipil negara"],
        "pns": ["pegawai negeri sipil"],
        "tte": ["tanda tangan elektronik"],
        "spbe": ["sistem pemerintahan berbasis elektronik"],
        "apbd": ["anggaran pendapatan dan belanja daerah"],
        "bpbd": ["badan penanggulangan bencana daerah"],
        "pdam": ["perusahaan daerah air minum", "air minum"],
        "ppa": ["perlindungan perempuan dan anak"],
        "dp3a": ["pemberdayaan perempuan dan perlindungan anak"],
    ]

    /// An expansion of several words: the words a query holds of it (function words are not kept in a
    /// query, ``SearchTerms/stopwords``), the phrase as written, and the abbreviation.
    struct Expansion {
        var typed: [String]
        var phrase: [String]
        var abbreviation: String
    }

    /// Longest first, so that the longest run of query words is taken.
    static let byExpansion: [Expansion] = expansions
        .flatMap { abbreviation, phrases in
            phrases.map { phrase in
                let words = SearchText.words(phrase)
                return Expansion(typed: words.filter { !SearchTerms.stopwords.contains($0) }, phrase: words, abbreviation: abbreviation)
            }
        }
        .filter { $0.typed.count > 1 }
        .sorted { ($0.typed.count, $1.abbreviation) > ($1.typed.count, $0.abbreviation) }

    /// The expansion whose words `words` holds from `start` on, and how many of them.
    static func expansion(at start: Int, of words: [String]) -> (length: Int, expansion: Expansion)? {
        for entry in byExpansion where start + entry.typed.count <= words.count {
            if Array(words[start..<(start + entry.typed.count)]) == entry.typed { return (entry.typed.count, entry) }
        }
        return nil
    }
}
