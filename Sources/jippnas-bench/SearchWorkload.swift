import Foundation
import JippnasCore
import JippnasStore

/// Words of Indonesian public-service innovation titles and summaries, most frequent first: generated
/// text draws from them with Zipf weights (the n-th word about 1/n as often as the first), as real text does.
enum Vocabulary {
    static let words: [String] = """
        pelayanan inovasi layanan publik masyarakat online digital desa aplikasi sistem informasi data kesehatan \
        pendidikan kota kabupaten terpadu warga anak sekolah puskesmas antrian pengaduan administrasi kependudukan \
        ibu balita gizi stunting posyandu petani pangan pasar usaha mikro umkm keuangan pajak retribusi izin \
        perizinan satu pintu cepat mudah gratis mobile keliling jemput bola terintegrasi elektronik smart \
        sampah lingkungan air bersih sanitasi banjir bencana tanggap darurat ambulans rumah sakit rujukan obat \
        vaksinasi imunisasi lansia disabilitas perempuan gender kekerasan perlindungan sosial bantuan miskin \
        kemiskinan keluarga harapan beasiswa guru literasi perpustakaan membaca belajar kelas pelatihan kerja \
        pengangguran wirausaha koperasi nelayan ikan laut pesisir hutan tani ternak sapi padi jagung irigasi \
        jalan transportasi angkutan parkir lalu lintas terminal pelabuhan wisata budaya seni festival \
        transparansi akuntabilitas anggaran musrenbang partisipasi aspirasi dprd kecamatan kelurahan rt rw \
        kartu identitas akta kelahiran kematian nikah surat keterangan tanda tangan dokumen arsip \
        kinerja asn aparatur disiplin absensi e-kinerja reformasi birokrasi tata kelola pemerintahan \
        hukum perda sengketa mediasi konsultasi hotline whatsapp sms call center portal website dashboard \
        peta spasial geografis satelit sensor cctv keamanan ketertiban pemadam kebakaran polisi pamong praja \
        energi listrik surya biogas daur ulang kompos plastik bank emisi hijau taman kebun bibit pohon \
        ekonomi kreatif produk lokal ekspor pemasaran toko marketplace pembayaran nontunai qris tabungan \
        kredit modal pinjaman bunga subsidi pupuk benih alat mesin teknologi tepat guna riset \
        mahasiswa pemuda olahraga karang taruna relawan gotong royong kader pendamping fasilitator \
        konseling psikologi remaja narkoba hiv tbc malaria demam berdarah jentik nyamuk rabies \
        persalinan bidan dokter perawat klinik laboratorium rekam medis resep apotek farmasi \
        sertifikat tanah bangunan rumah layak huni kumuh permukiman tata ruang survei sensus statistik
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    static let agencies = [
        "Dinas Kesehatan", "Dinas Pendidikan", "Dinas Kependudukan dan Pencatatan Sipil", "Dinas Sosial",
        "Dinas Komunikasi dan Informatika", "Dinas Penanaman Modal dan PTSP", "Dinas Pertanian", "Dinas Perikanan",
        "Dinas Lingkungan Hidup", "Badan Pendapatan Daerah", "RSUD", "Puskesmas", "Kecamatan", "Bappeda",
        "Dinas Perhubungan", "Badan Penanggulangan Bencana Daerah",
    ]

    /// Zipf(1) weights over ``words``, as a cumulative table for sampling.
    static let cumulative: [Double] = {
        var sum = 0.0
        return words.indices.map { rank in
            sum += 1 / Double(rank + 1)
            return sum
        }
    }()

    static func word<G: RandomNumberGenerator>(using g: inout G) -> String {
        let x = Double.random(in: 0..<cumulative[cumulative.count - 1], using: &g)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < x { low = mid + 1 } else { high = mid }
        }
        return words[low]
    }

    static func phrase<G: RandomNumberGenerator>(_ count: ClosedRange<Int>, using g: inout G) -> String {
        (0..<Int.random(in: count, using: &g)).map { _ in word(using: &g) }.joined(separator: " ")
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

/// Builds a catalogue of generated innovations through the aggregator's own apply path (history bodies,
/// hub state and the search index's triggers included).
enum CatalogueGenerator {
    static let hubs = ["12", "14", "15", "16", "18", "19", "32", "33", "34", "35", "36", "52", "53", "61", "63", "64",
                       "73", "75", "81", "82"]

    static func generate(rows: Int, path: String) throws -> Double {
        let store = try CatalogueStore(path: path)
        var g = SplitMix64(state: 20261130)
        var seq: [String: Int64] = [:]
        let start = ContinuousClock.now
        var batch: [IncomingChange] = []
        for n in 0..<rows {
            let hub = hubs[Int.random(in: 0..<hubs.count, using: &g)]
            seq[hub, default: 0] += 1
            let kk = Int.random(in: 0..<2, using: &g) == 0 ? Int.random(in: 1...29, using: &g) : Int.random(in: 71...79, using: &g)
            var content = InnovationContent(
                id: "g-\(n)", title: Vocabulary.phrase(3...7, using: &g).capitalized,
                agency: Vocabulary.agencies[Int.random(in: 0..<Vocabulary.agencies.count, using: &g)] + " " + hub,
                region: hub + "." + String(format: "%02d", kk),
                category: Category.allCases[Int.random(in: 0..<Category.allCases.count, using: &g)],
                kind: Bool.random(using: &g) ? .digital : .nonDigital,
                stage: Stage.allCases[Int.random(in: 0..<Stage.allCases.count, using: &g)],
                launchedOn: String(format: "%04d-%02d-%02d", Int.random(in: 2014...2024, using: &g), Int.random(in: 1...12, using: &g),
                                   Int.random(in: 1...28, using: &g)),
                summary: Vocabulary.phrase(15...30, using: &g), benefits: Vocabulary.phrase(8...15, using: &g))
            if n > 100, Int.random(in: 0..<20, using: &g) == 0 {
                content.replicates = hubs[Int.random(in: 0..<hubs.count, using: &g)] + ":g-\(Int.random(in: 0..<n, using: &g))"
            }
            let envelope = Envelope(hub: hub, seq: seq[hub]!, event: .upsert, sentAt: Timestamp.now(),
                                    innovation: content.innovation(revision: 1, updatedAt: Timestamp.now()))
            batch.append(IncomingChange(envelope: envelope, messageID: "gen-\(n)", routingKey: envelope.routingKey,
                                        body: EnvelopeCodec.encode(envelope)))
            if batch.count == 2000 {
                _ = try store.apply(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { _ = try store.apply(batch) }
        return Double((ContinuousClock.now - start).microseconds) / 1e6
    }
}

/// The searches measured, drawn from the same word frequencies as the text.
struct QueryWorkload {
    var twoWordsOneFilter: [CatalogueQuery] = []
    var twoWords: [CatalogueQuery] = []
    var browse: [CatalogueQuery] = []

    init<G: RandomNumberGenerator>(count: Int, using g: inout G) {
        for _ in 0..<count {
            var first = Vocabulary.word(using: &g)
            var second = Vocabulary.word(using: &g)
            while second == first { second = Vocabulary.word(using: &g) }
            if first.count > 6, Bool.random(using: &g) { first = String(first.prefix(5)) }  // a word still being typed
            let province = CatalogueGenerator.hubs[Int.random(in: 0..<CatalogueGenerator.hubs.count, using: &g)]
            twoWordsOneFilter.append(CatalogueQuery(text: "\(first) \(second)", province: province))
            twoWords.append(CatalogueQuery(text: "\(first) \(second)"))
            browse.append(CatalogueQuery(category: Category.allCases[Int.random(in: 0..<Category.allCases.count, using: &g)]))
        }
    }
}

extension CatalogueQuery {
    /// This query as an API request path.
    var apiPath: String {
        var components = URLComponents()
        components.path = "/api/v1/innovations"
        components.queryItems = [URLQueryItem(name: "q", value: text)] + (province.map { [URLQueryItem(name: "province", value: $0)] } ?? [])
            + (category.map { [URLQueryItem(name: "category", value: $0.rawValue)] } ?? [])
        return components.string ?? components.path
    }
}
