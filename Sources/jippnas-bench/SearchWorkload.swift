import Foundation
import GRDB
import JippnasCore
import JippnasStore

/// Indonesian public-service text as the generator writes it: function words, words every innovation
/// uses, words of its topic (one per category), and program and place names. Within each group the n-th
/// word is drawn about 1/n as often as the first (Zipf), as in real text. Topics matter: real summaries
/// are about one thing, so "antrian" and "puskesmas" meet often and "antrian" and "nelayan" rarely, which
/// independent draws from one list would get wrong (every word in every record).
enum Vocabulary {
    static let function = "dan yang untuk di dengan dalam ke dari pada oleh agar melalui bagi serta atau lebih secara".split(separator: " ").map(String.init)
    static let general = "pelayanan inovasi layanan publik masyarakat warga online digital aplikasi sistem data informasi terpadu cepat mudah".split(separator: " ").map(String.init)
    static let topics: [[String]] = [
        "kemiskinan miskin bantuan sosial keluarga harapan subsidi pangan beras rumah layak huni kumuh disabilitas lansia jaminan kartu penerima verifikasi".split(separator: " ").map(String.init),
        "sekolah pendidikan guru murid siswa beasiswa literasi perpustakaan membaca belajar kelas kurikulum ujian paud madrasah putus".split(separator: " ").map(String.init),
        "kesehatan puskesmas antrian pasien dokter bidan posyandu balita gizi stunting imunisasi vaksinasi rujukan ambulans obat rekam medis persalinan".split(separator: " ").map(String.init),
        "pangan petani padi jagung pupuk benih irigasi panen lumbung ternak sapi kebun hortikultura cadangan harga pasar".split(separator: " ").map(String.init),
        "usaha umkm mikro koperasi modal kredit pinjaman wirausaha pelatihan kerja pengangguran pemasaran produk ekspor toko marketplace qris".split(separator: " ").map(String.init),
        "desa kader gotong royong musrenbang partisipasi relawan karang taruna pemuda pendamping komunitas swadaya kelompok bumdes dana".split(separator: " ").map(String.init),
        "perempuan gender anak kekerasan perlindungan ibu hamil menyusui ramah laktasi pengasuhan pernikahan dini konseling korban".split(separator: " ").map(String.init),
        "sampah lingkungan air bersih sanitasi banjir sungai hutan pohon daur ulang kompos plastik bank emisi energi surya".split(separator: " ").map(String.init),
        "perizinan izin administrasi kependudukan akta kelahiran identitas surat keterangan tanda tangan elektronik arsip pajak retribusi anggaran kinerja".split(separator: " ").map(String.init),
        "hukum perda sengketa mediasi pengaduan ketertiban keamanan cctv pamong praja pemadam kebakaran narkoba bantuan hukum posbakum".split(separator: " ").map(String.init),
    ]
    static let agencies = [
        "Dinas Kesehatan", "Dinas Pendidikan", "Dinas Kependudukan dan Pencatatan Sipil", "Dinas Sosial",
        "Dinas Komunikasi dan Informatika", "Dinas Penanaman Modal dan PTSP", "Dinas Pertanian", "Dinas Perikanan",
        "Dinas Lingkungan Hidup", "Badan Pendapatan Daerah", "RSUD", "Puskesmas", "Kecamatan", "Bappeda",
        "Dinas Perhubungan", "Badan Penanggulangan Bencana Daerah",
    ]
    static let syllables = ["ka", "ra", "ma", "si", "lo", "pa", "tu", "ba", "ng", "go", "re", "wa", "da", "ni", "su", "le"]

    static func zipf<G: RandomNumberGenerator>(_ words: [String], using g: inout G) -> String {
        // Inverse of the Zipf(1) cumulative distribution, approximated by exp(U * ln(n + 1)) - 1.
        let n = Double(words.count)
        let x = Int(exp(Double.random(in: 0..<1, using: &g) * log(n + 1))) - 1
        return words[min(max(x, 0), words.count - 1)]
    }

    /// A program or place name: one of about 65,000, each rare.
    static func name<G: RandomNumberGenerator>(using g: inout G) -> String {
        (0..<Int.random(in: 2...4, using: &g)).map { _ in syllables[Int.random(in: 0..<syllables.count, using: &g)] }.joined()
    }

    /// Running text about `topic`: a third function words, a fifth general words, the rest the topic's.
    static func text<G: RandomNumberGenerator>(topic: Int, words count: ClosedRange<Int>, using g: inout G) -> String {
        (0..<Int.random(in: count, using: &g)).map { _ in
            switch Double.random(in: 0..<1, using: &g) {
            case ..<0.33: zipf(function, using: &g)
            case ..<0.53: zipf(general, using: &g)
            case ..<0.97: zipf(topics[topic], using: &g)
            default: name(using: &g)
            }
        }.joined(separator: " ")
    }

    static func title<G: RandomNumberGenerator>(topic: Int, using g: inout G) -> String {
        var words = [zipf(general, using: &g)] + (0..<Int.random(in: 1...3, using: &g)).map { _ in zipf(topics[topic], using: &g) }
        if Bool.random(using: &g) { words.append(name(using: &g)) }
        return words.joined(separator: " ").capitalized
    }
}

/// A small deterministic generator, so that two runs build the same catalogue.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds a catalogue of generated innovations: a migrated catalogue (so the search index's triggers
/// index every row as the aggregator's commits would) filled by plain INSERTs in large transactions,
/// without history, which searches do not read.
enum CatalogueGenerator {
    static let hubs = ["12", "14", "15", "16", "18", "19", "32", "33", "34", "35", "36", "52", "53", "61", "63", "64",
                       "73", "75", "81", "82"]

    static func generate(rows: Int, path: String) throws -> Double {
        let store = try CatalogueStore(path: path)
        let queue = try DatabaseQueue(path: path)
        var g = SplitMix64(state: 20261130)
        let start = ContinuousClock.now
        let now = Timestamp.now()
        for chunk in stride(from: 0, to: rows, by: 10_000) {
            try queue.inTransaction { db in
                let insert = try db.makeStatement(sql: """
                    INSERT INTO innovation(global_id, hub, id, revision, title, agency, region, category, kind, stage,
                        launched_on, summary, benefits, status, replicates, updated_at, withdrawn, last_seq,
                        last_message_id, received_at)
                    VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, 0, ?, ?, ?)
                    """)
                for n in chunk..<min(chunk + 10_000, rows) {
                    try insert.execute(arguments: row(n, now: now, using: &g))
                }
                return .commit
            }
            // The rows inserted here are indexed as the daemon indexes a batch (SearchIndex.flush).
            try store.indexPendingChanges()
        }
        try queue.write { db in
            for hub in hubs {
                try db.execute(sql: """
                    INSERT INTO hub_state(hub, highest_seq, last_message_at, applied, contiguous_seq)
                    SELECT hub, MAX(last_seq), ?, COUNT(*), MAX(last_seq) FROM innovation WHERE hub = ?
                    """, arguments: [now, hub])
            }
        }
        return Double((ContinuousClock.now - start).microseconds) / 1e6
    }

    private static func row<G: RandomNumberGenerator>(_ n: Int, now: String, using g: inout G) -> StatementArguments {
        let hub = hubs[Int.random(in: 0..<hubs.count, using: &g)]
        let topic = Int.random(in: 0..<Vocabulary.topics.count, using: &g)
        let kk = Bool.random(using: &g) ? Int.random(in: 1...29, using: &g) : Int.random(in: 71...79, using: &g)
        let launched = String(format: "%04d-%02d-%02d", Int.random(in: 2014...2024, using: &g), Int.random(in: 1...12, using: &g),
                              Int.random(in: 1...28, using: &g))
        let replicates: String? = n > 100 && Int.random(in: 0..<20, using: &g) == 0
            ? hubs[Int.random(in: 0..<hubs.count, using: &g)] + ":g-\(Int.random(in: 0..<n, using: &g))" : nil
        return [
            "\(hub):g-\(n)", hub, "g-\(n)", Vocabulary.title(topic: topic, using: &g),
            Vocabulary.agencies[Int.random(in: 0..<Vocabulary.agencies.count, using: &g)] + " " + hub,
            hub + "." + String(format: "%02d", kk), Category.allCases[topic].rawValue,
            Bool.random(using: &g) ? "digital" : "non_digital",
            Stage.allCases[Int.random(in: 0..<Stage.allCases.count, using: &g)].rawValue, launched,
            Vocabulary.text(topic: topic, words: 20...40, using: &g), Vocabulary.text(topic: topic, words: 8...16, using: &g),
            replicates, now, n, "gen-\(n)", now,
        ]
    }
}

/// The searches measured, by class, drawn from the same word frequencies as the text.
struct QueryWorkload {
    /// Each class's name and its searches, in the order the report lists them.
    var classes: [(name: String, queries: [CatalogueQuery])] = []
    /// A thousand distinct searches of every class, asked as often as Zipf's law says (the n-th most
    /// popular about 1/n as often as the first): what many people searching at once ask.
    var zipfMix: [CatalogueQuery] = []

    /// Two words of one topic (one of them, a third of the time, a word every innovation uses), as someone
    /// looking for an innovation of that kind types them; the last word, a quarter of the time, is still
    /// being typed and cut to five letters. (Words before it are whole: people type left to right.)
    init<G: RandomNumberGenerator>(count: Int, using g: inout G) {
        var common: [CatalogueQuery] = [], two: [CatalogueQuery] = [], twoFiltered: [CatalogueQuery] = []
        var specific: [CatalogueQuery] = [], rare: [CatalogueQuery] = [], typo: [CatalogueQuery] = [], browse: [CatalogueQuery] = []
        for _ in 0..<count {
            let topic = Int.random(in: 0..<Vocabulary.topics.count, using: &g)
            let first = Int.random(in: 0..<3, using: &g) == 0
                ? Vocabulary.zipf(Vocabulary.general, using: &g) : Vocabulary.zipf(Vocabulary.topics[topic], using: &g)
            var second = Vocabulary.zipf(Vocabulary.topics[topic], using: &g)
            while second == first { second = Vocabulary.zipf(Vocabulary.topics[topic], using: &g) }
            if second.count > 6, Int.random(in: 0..<4, using: &g) == 0 { second = String(second.prefix(5)) }
            let province = CatalogueGenerator.hubs[Int.random(in: 0..<CatalogueGenerator.hubs.count, using: &g)]
            common.append(CatalogueQuery(text: Vocabulary.zipf(Vocabulary.general, using: &g)))
            two.append(CatalogueQuery(text: "\(first) \(second)"))
            twoFiltered.append(CatalogueQuery(text: "\(first) \(second)", province: province))
            specific.append(CatalogueQuery(text: "\(second) \(Vocabulary.name(using: &g))", province: province))
            rare.append(CatalogueQuery(text: Vocabulary.name(using: &g) + Vocabulary.name(using: &g)))
            typo.append(CatalogueQuery(text: Self.mistype(Vocabulary.topics[topic].filter { $0.count >= 6 }.randomElement(using: &g) ?? "puskesmas",
                                                          using: &g)))
            browse.append(CatalogueQuery(category: Category.allCases[Int.random(in: 0..<Category.allCases.count, using: &g)]))
        }
        classes = [
            ("one common word", common), ("two words", two), ("two words + province", twoFiltered),
            ("topic word + name + province", specific), ("rare name", rare), ("mistyped word", typo),
            ("no words, category filter", browse),
        ]
        let pool = (0..<1000).map { n in classes[n % classes.count].queries[(n / classes.count) % count] }
        zipfMix = (0..<20_000).map { _ in
            // Inverse of the Zipf(1) cumulative distribution over the pool's ranks.
            let rank = Int(exp(Double.random(in: 0..<1, using: &g) * log(Double(pool.count) + 1))) - 1
            return pool[min(max(rank, 0), pool.count - 1)]
        }
    }

    /// The class whose searches the CLI and the throughput without repeats are measured on.
    var twoWordsOneFilter: [CatalogueQuery] { classes[2].queries }

    /// One letter of `word` replaced by its neighbour in the alphabet: one edit, as a slip of the finger.
    static func mistype<G: RandomNumberGenerator>(_ word: String, using g: inout G) -> String {
        var letters = Array(word.unicodeScalars)
        let at = Int.random(in: 1..<letters.count, using: &g)
        letters[at] = letters[at] == "z" ? "y" : Unicode.Scalar(letters[at].value + 1)!
        return String(String.UnicodeScalarView(letters))
    }
}

extension CatalogueQuery {
    /// This query as an API request path.
    var apiPath: String {
        var components = URLComponents()
        components.path = "/api/v1/innovations"
        components.queryItems = (text.isEmpty ? [] : [URLQueryItem(name: "q", value: text)])
            + (province.map { [URLQueryItem(name: "province", value: $0)] } ?? [])
            + (category.map { [URLQueryItem(name: "category", value: $0.rawValue)] } ?? [])
        return components.string ?? components.path
    }
}
