/// A province (provinsi) identified by its two-digit Kemendagri region code.
public struct Province: Sendable, Hashable, Codable {
    /// The two-digit Kemendagri code, for example `35` for Jawa Timur.
    public let code: String
    /// The official name, for example `Jawa Timur`.
    public let name: String

    public init(code: String, name: String) {
        self.code = code
        self.name = name
    }
}

/// The 38 provinces and their Kemendagri codes (Permendagri on kode wilayah, 2022 layout).
///
/// `seeds/provinces.csv` carries the same list plus which provinces run a JIPP hub; a test keeps the two equal.
public enum ProvinceRegistry {
    public static let all: [Province] = [
        ("11", "Aceh"), ("12", "Sumatera Utara"), ("13", "Sumatera Barat"), ("14", "Riau"), ("15", "Jambi"),
        ("16", "Sumatera Selatan"), ("17", "Bengkulu"), ("18", "Lampung"), ("19", "Kepulauan Bangka Belitung"),
        ("21", "Kepulauan Riau"), ("31", "DKI Jakarta"), ("32", "Jawa Barat"), ("33", "Jawa Tengah"),
        ("34", "DI Yogyakarta"), ("35", "Jawa Timur"), ("36", "Banten"), ("51", "Bali"),
        ("52", "Nusa Tenggara Barat"), ("53", "Nusa Tenggara Timur"), ("61", "Kalimantan Barat"),
        ("62", "Kalimantan Tengah"), ("63", "Kalimantan Selatan"), ("64", "Kalimantan Timur"),
        ("65", "Kalimantan Utara"), ("71", "Sulawesi Utara"), ("72", "Sulawesi Tengah"),
        ("73", "Sulawesi Selatan"), ("74", "Sulawesi Tenggara"), ("75", "Gorontalo"), ("76", "Sulawesi Barat"),
        ("81", "Maluku"), ("82", "Maluku Utara"), ("91", "Papua"), ("92", "Papua Barat"), ("93", "Papua Selatan"),
        ("94", "Papua Tengah"), ("95", "Papua Pegunungan"), ("96", "Papua Barat Daya"),
    ].map { Province(code: $0.0, name: $0.1) }

    private static let byCode: [String: Province] = Dictionary(uniqueKeysWithValues: all.map { ($0.code, $0) })

    /// The province with this code, or nil when the code is not a Kemendagri province code.
    public static func province(code: String) -> Province? { byCode[code] }

    /// Whether `code` is one of the 38 province codes.
    public static func isProvinceCode(_ code: String) -> Bool { byCode[code] != nil }
}

/// Kabupaten/kota codes (`PP.KK`): kabupaten 01–69, kota 71–99.
public enum RegionCode {
    /// Whether `region` is shaped `PP.KK` with a known province and a kabupaten/kota number in range.
    public static func isValid(_ region: String) -> Bool {
        let u = Array(region.utf8)
        guard u.count == 5, u[2] == UInt8(ascii: "."),
              u.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }) else { return false }
        guard ProvinceRegistry.isProvinceCode(String(region.prefix(2))) else { return false }
        let kk = Int(region.suffix(2)) ?? 0
        return (1...69).contains(kk) || (71...99).contains(kk)
    }

    /// The province part of a valid region code.
    public static func province(of region: String) -> String { String(region.prefix(2)) }
}

/// The code a hub publishes under: a province (`35`, a provincial hub reporting to the national level)
/// or a kabupaten/kota (`35.78`, a regional hub reporting to its province). Routing keys, envelopes,
/// checkpoints, broker users and signing keys all carry it.
public enum HubCode {
    /// Whether `code` is a province code or a valid kabupaten/kota code.
    public static func isValid(_ code: String) -> Bool {
        ProvinceRegistry.isProvinceCode(code) || RegionCode.isValid(code)
    }

    /// Whether `code` is a kabupaten/kota hub's (it has a province above it).
    public static func isRegional(_ code: String) -> Bool { code.utf8.count == 5 }

    /// The province a valid hub code belongs to (itself for a provincial hub).
    public static func province(of code: String) -> String { String(code.prefix(2)) }

    /// Whether a hub of `code` publishes directly below `relay`: a kabupaten/kota of that province.
    public static func isBelow(_ code: String, relay: String) -> Bool {
        isRegional(code) && !isRegional(relay) && province(of: code) == relay
    }
}

/// Which hubs a consumer takes messages from.
public enum HubScope: Sendable, Equatable {
    /// Provincial hubs: the national aggregator.
    case provinces
    /// The kabupaten/kota hubs of one province: that province's relaying hub. An empty `listed` takes
    /// every kabupaten/kota of the province.
    case regions(of: String, listed: Set<String>)

    /// Why a message from `hub` is refused here, or nil when the scope takes it.
    public func refusal(for hub: String) -> ValidationReason? {
        switch self {
        case .provinces:
            return HubCode.isRegional(hub) ? .invalidRoutingKey : nil
        case .regions(let province, let listed):
            guard HubCode.isBelow(hub, relay: province) else { return .invalidRoutingKey }
            return listed.isEmpty || listed.contains(hub) ? nil : .unlistedHub
        }
    }
}
