import Foundation

/// Indonesia's three time zones and dates written the Indonesian way, for pages people read: a hub's
/// times in its own zone ("7 Desember 2026 14.05 WIB"), not UTC ISO strings.
///
/// Fixed offsets, by law (Keppres 41/1987) and without daylight saving, so no time-zone database is needed.
public enum IndonesianTime {
    public enum Zone: String, Sendable, CaseIterable {
        /// Waktu Indonesia Barat, UTC+7: Sumatra, Java, West and Central Kalimantan.
        case wib = "WIB"
        /// Waktu Indonesia Tengah, UTC+8: Bali, Nusa Tenggara, the rest of Kalimantan, Sulawesi.
        case wita = "WITA"
        /// Waktu Indonesia Timur, UTC+9: Maluku and Papua.
        case wit = "WIT"

        public var secondsFromUTC: Int {
            switch self {
            case .wib: 7 * 3600
            case .wita: 8 * 3600
            case .wit: 9 * 3600
            }
        }
    }

    /// The zone of a province or of a kabupaten/kota in it (`35`, `35.78`); WIB for a code it does not know.
    public static func zone(of hub: String) -> Zone {
        switch Int(hub.prefix(2)) ?? 0 {
        case 51...53, 63...65, 71...76: .wita
        case 81...82, 91...99: .wit
        default: .wib
        }
    }

    public static let monthNames = [
        "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November",
        "Desember",
    ]

    /// An RFC 3339 instant in `zone`, as Indonesians write it: `7 Desember 2026 14.05 WIB`. A value that is
    /// not an instant is returned as it is, so that nothing a hub sent is hidden.
    public static func dateTime(_ rfc3339: String, zone: Zone) -> String {
        guard let date = Timestamp.parse(rfc3339) else { return rfc3339 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: zone.secondsFromUTC)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        guard let year = c.year, let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute else { return rfc3339 }
        return "\(day) \(monthNames[month - 1]) \(year) " + String(format: "%02d.%02d", hour, minute) + " \(zone.rawValue)"
    }

    /// A calendar date (`2021-03-12`, or a year and month, or a year) as `12 Maret 2021`; anything else as it is.
    public static func date(_ isoDate: String) -> String {
        let parts = isoDate.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil }) else { return isoDate }
        let numbers = parts.map { $0! }
        if numbers.count >= 2, !(1...12).contains(numbers[1]) { return isoDate }
        switch numbers.count {
        case 1: return "\(numbers[0])"
        case 2: return "\(monthNames[numbers[1] - 1]) \(numbers[0])"
        default: return "\(numbers[2]) \(monthNames[numbers[1] - 1]) \(numbers[0])"
        }
    }
}
