/// Maps what operators write (English or Indonesian column names, human spellings of the vocabularies)
/// to innovation content, and validates it with the same rules the aggregator applies.
public enum ImportNormalizer {
    /// Column names accepted for each field; the first is the canonical (wire) name.
    public static let aliases: [String: [String]] = [
        "id": ["id", "kode", "kode_inovasi"],
        "title": ["title", "nama_inovasi", "nama"],
        "agency": ["agency", "instansi", "opd", "nama_opd"],
        "region": ["region", "kode_wilayah", "wilayah"],
        "category": ["category", "kategori"],
        "kind": ["kind", "jenis"],
        "stage": ["stage", "tahapan"],
        "initiator": ["initiator", "inisiator"],
        "launched_on": ["launched_on", "tanggal_penerapan", "waktu_penerapan"],
        "summary": ["summary", "ringkasan", "deskripsi"],
        "benefits": ["benefits", "manfaat"],
        "contact": ["contact", "kontak"],
        "url": ["url", "tautan"],
        "status": ["status"],
        "replicates": ["replicates", "replikasi_dari"],
    ]

    /// Keys an exported record carries that the hub assigns itself; accepted and ignored on import.
    static let assignedByHub: Set<String> = ["revision", "updated_at", "withdrawn", "withdrawn_at", "hub", "global_id"]

    private static let canonicalByAlias: [String: String] = {
        var map: [String: String] = [:]
        for (canonical, names) in aliases { for name in names { map[name] = canonical } }
        return map
    }()

    /// Builds validated content from one row of `field name → text`.
    public static func content(from row: [String: String], province: String) -> Result<InnovationContent, ImportReason> {
        var f: [String: String] = [:]
        for (key, value) in row {
            let name = key.trimmingWhitespace().lowercased().replacingOccurrences(of: " ", with: "_")
            if assignedByHub.contains(name) { continue }
            guard let canonical = canonicalByAlias[name] else { return .failure(.unknownField(key)) }
            let trimmed = value.trimmingWhitespace()
            if !trimmed.isEmpty { f[canonical] = trimmed }
        }
        func required(_ name: String) throws(ImportReason) -> String {
            guard let value = f[name] else { throw .invalid(.missingField(name)) }
            return value
        }
        func vocabulary<T>(_ name: String, _ parse: (String) -> T?) throws(ImportReason) -> T {
            guard let value = parse(slug(try required(name))) else { throw .invalid(.invalidField(name)) }
            return value
        }
        do throws(ImportReason) {
            var initiator: Initiator?
            if f["initiator"] != nil { initiator = try vocabulary("initiator", parseInitiator) }
            let status: InnovationStatus = f["status"] == nil ? .active : try vocabulary("status", parseStatus)
            let content = InnovationContent(
                id: try required("id"), title: try required("title"), agency: try required("agency"),
                region: try required("region"), category: try vocabulary("category", parseCategory),
                kind: try vocabulary("kind", parseKind), stage: try vocabulary("stage", parseStage),
                initiator: initiator, launchedOn: f["launched_on"], summary: f["summary"], benefits: f["benefits"],
                contact: f["contact"], url: f["url"], status: status, replicates: f["replicates"])
            if let reason = InnovationValidator.validate(content, province: province) { throw .invalid(reason) }
            return .success(content)
        } catch {
            return .failure(error)
        }
    }

    /// Lower case, with spaces and hyphens as underscores: `Uji Coba` → `uji_coba`.
    static func slug(_ value: String) -> String {
        var out = ""
        var lastUnderscore = false
        for ch in value.lowercased() {
            if ch == " " || ch == "-" || ch == "_" || ch == "/" {
                if !lastUnderscore && !out.isEmpty { out.append("_") }
                lastUnderscore = true
            } else {
                out.append(ch)
                lastUnderscore = false
            }
        }
        return lastUnderscore ? String(out.dropLast()) : out
    }

    private static let categoryByName: [String: Category] = {
        var map: [String: Category] = [:]
        for c in Category.allCases {
            map[c.rawValue] = c
            map[slug(c.indonesianName)] = c
        }
        map["pertumbuhan_ekonomi_dan_kesempatan_kerja"] = .pertumbuhanEkonomi
        map["pelayanan_publik_responsif_gender"] = .pelayananResponsifGender
        map["perlindungan_dan_pelestarian_lingkungan_hidup"] = .lingkunganHidup
        return map
    }()

    static func parseCategory(_ s: String) -> Category? { categoryByName[s] }

    static func parseKind(_ s: String) -> InnovationKind? {
        switch s {
        case "digital", "daring": .digital
        case "non_digital", "nondigital", "luring": .nonDigital
        default: nil
        }
    }

    static func parseStage(_ s: String) -> Stage? {
        switch s {
        case "inisiatif", "initiative": .inisiatif
        case "uji_coba", "ujicoba", "trial", "pilot": .ujiCoba
        case "penerapan", "implementation", "implemented": .penerapan
        default: nil
        }
    }

    static func parseStatus(_ s: String) -> InnovationStatus? {
        switch s {
        case "active", "aktif", "berjalan", "berkelanjutan": .active
        case "dormant", "tidak_aktif", "berhenti", "nonaktif": .dormant
        default: nil
        }
    }

    static func parseInitiator(_ s: String) -> Initiator? {
        switch s {
        case "kepala_daerah": .kepalaDaerah
        case "anggota_dprd", "dprd": .anggotaDPRD
        case "perangkat_daerah", "opd", "opd_perangkat_daerah": .perangkatDaerah
        case "asn": .asn
        case "masyarakat", "community", "public": .masyarakat
        default: nil
        }
    }
}
