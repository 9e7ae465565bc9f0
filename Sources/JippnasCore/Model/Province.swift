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
