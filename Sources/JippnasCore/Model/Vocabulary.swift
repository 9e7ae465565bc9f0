/// The closed vocabularies of an innovation record. Wire values are the raw values; import accepts the
/// Indonesian spellings operators use (see ``ImportNormalizer``).

/// KIPP 2021 categories (kategori).
public enum Category: String, Sendable, CaseIterable, Codable {
    case pengentasanKemiskinan = "pengentasan_kemiskinan"
    case pendidikan
    case kesehatan
    case ketahananPangan = "ketahanan_pangan"
    case pertumbuhanEkonomi = "pertumbuhan_ekonomi"
    case pemberdayaanMasyarakat = "pemberdayaan_masyarakat"
    case pelayananResponsifGender = "pelayanan_responsif_gender"
    case lingkunganHidup = "lingkungan_hidup"
    case tataKelolaPemerintahan = "tata_kelola_pemerintahan"
    case penegakanHukum = "penegakan_hukum"

    /// The category's name as KIPP 2021 writes it.
    public var indonesianName: String {
        switch self {
        case .pengentasanKemiskinan: "pengentasan kemiskinan"
        case .pendidikan: "pendidikan"
        case .kesehatan: "kesehatan"
        case .ketahananPangan: "ketahanan pangan"
        case .pertumbuhanEkonomi: "pertumbuhan ekonomi dan kesempatan kerja"
        case .pemberdayaanMasyarakat: "pemberdayaan masyarakat"
        case .pelayananResponsifGender: "pelayanan publik responsif gender"
        case .lingkunganHidup: "perlindungan dan pelestarian lingkungan hidup"
        case .tataKelolaPemerintahan: "tata kelola pemerintahan"
        case .penegakanHukum: "penegakan hukum"
        }
    }
}

/// Jenis inovasi: digital (daring) or non-digital (luring).
public enum InnovationKind: String, Sendable, CaseIterable, Codable {
    case digital
    case nonDigital = "non_digital"
}

/// Tahapan: how far the innovation has gone.
public enum Stage: String, Sendable, CaseIterable, Codable {
    case inisiatif
    case ujiCoba = "uji_coba"
    case penerapan
}

/// Whether the innovation is still running; a real attribute of the JIPPNas data refresh.
public enum InnovationStatus: String, Sendable, CaseIterable, Codable {
    case active
    case dormant
}

/// Who started the innovation (inisiator), per the regional innovation proposal forms.
public enum Initiator: String, Sendable, CaseIterable, Codable {
    case kepalaDaerah = "kepala_daerah"
    case anggotaDPRD = "anggota_dprd"
    case perangkatDaerah = "perangkat_daerah"
    case asn
    case masyarakat
}

/// The change a message announces.
public enum ChangeEvent: String, Sendable, CaseIterable, Codable {
    case upsert
    case withdraw
}
