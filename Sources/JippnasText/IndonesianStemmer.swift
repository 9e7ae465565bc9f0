import CHunspell
import CSnowball
import Foundation
import JippnasCore
import Synchronization

/// The stems of Indonesian words, so that a search for *izin* finds *perizinan* and *layanan* finds
/// *pelayanan*.
///
/// Three steps, each used where it serves, measured on the words officers type (Tests/JippnasTextTests):
/// 1. Hunspell with Debian's Indonesian dictionary (`hunspell-id`, 31,000 roots with their affix rules):
///    it knows the prefixes that swallow a root's first consonant (*pengelolaan* → *kelola*,
///    *penanganan* → *tangan*), which Snowball's light stemmer does not, and leaves roots alone
///    (*digital*, *keliling*, which Snowball cuts to *gital*, *liling*).
/// 2. For a word the dictionary has no derivation of, a confix stripped and the inside tried again
///    (*kependudukan* → *penduduk* → *duduk*).
/// 3. Snowball's Indonesian stemmer (Tala's algorithm, `libstemmer`) for the rest: names, abbreviations,
///    loanwords: consistent for every form of a word, which is what matching needs.
///
/// A word may have more than one stem (Hunspell lists each reading); all are kept. Words with digits and
/// words shorter than three letters are their own stem. Neither C library is thread-safe, so calls are
/// serialised; a cache of recent words keeps that cheap, the vocabulary of a catalogue being small.
public final class IndonesianStemmer: Sendable {
    /// Where Debian's `hunspell-id` puts the dictionary.
    public static let defaultDictionary = (affix: "/usr/share/hunspell/id_ID.aff", words: "/usr/share/hunspell/id_ID.dic")

    /// The process-wide stemmer over Debian's dictionary (Snowball alone when it is not installed).
    public static let shared = IndonesianStemmer()

    /// What decides the stems: this code's version and the dictionary's bytes. An index built under
    /// another fingerprint must be rebuilt, or the stems it deletes are not the ones it inserted.
    public let fingerprint: String
    /// Whether Hunspell's dictionary was found and loaded.
    public let hasDictionary: Bool

    private let engines: Mutex<Engines>

    /// Bumped whenever the rules below change what a word's stems are.
    static let rulesVersion = 1
    static let cacheLimit = 200_000

    public init(affixPath: String = defaultDictionary.affix, dictionaryPath: String = defaultDictionary.words) {
        var engines = Engines(affixPath: affixPath, dictionaryPath: dictionaryPath)
        hasDictionary = engines.hunspell != nil
        var identity = "rules \(Self.rulesVersion)"
        if hasDictionary, let affix = FileManager.default.contents(atPath: affixPath),
           let words = FileManager.default.contents(atPath: dictionaryPath)
        {
            identity += " hunspell-id \(Self.digest(affix)) \(Self.digest(words))"
        } else {
            identity += " snowball only"
        }
        // The libraries' own behaviour too (a Debian upgrade of libhunspell or libstemmer): the stems of
        // probe words covering each step.
        var probes: [String] = []
        for word in Self.probeWords { probes.append(engines.stems(word).joined(separator: ",")) }
        fingerprint = identity + " probes \(Self.digest(Data(probes.joined(separator: ";").utf8)))"
        self.engines = Mutex(engines)
    }

    static let probeWords = [
        "pelayanan", "perizinan", "pengelolaan", "penanganan", "kependudukan", "pembelajaran", "ketahanan", "digital",
        "keliling", "kemendagri", "disdukcapil", "menyampaikan", "diperbaharui", "surabaya", "pemberdayaannya",
    ]

    /// The stems of one word as ``SearchText/words(_:)`` cuts them (lowercase, diacritics folded), in a
    /// stable order, never empty.
    public func stems(_ word: String) -> [String] {
        guard Self.isStemmable(word) else { return [word] }
        return engines.withLock { $0.stems(word) }
    }

    /// Words with digits, words shorter than three letters and words longer than any Indonesian word
    /// (``SearchText/maximumTermLength``: a hub's text may hold a run of thousands of letters, which the
    /// dictionary lookups would walk for nothing) are their own stem.
    static func isStemmable(_ word: String) -> Bool {
        // Bytes, not scalars' Unicode properties: the lookup of a scalar's numeric type was a third of
        // the index's stemming time, and nearly every word is ASCII.
        var count = 0
        var ascii = true
        for byte in word.utf8 {
            if byte < 0x80 {
                if byte >= 0x30, byte <= 0x39 { return false }
            } else {
                ascii = false
            }
            if byte & 0xC0 != 0x80 { count += 1 }
            if count > SearchText.maximumTermLength { return false }
        }
        if !ascii, word.unicodeScalars.contains(where: { $0.properties.numericType != nil }) { return false }
        return count >= 3
    }

    /// The stems of every word of `text`, separated by spaces: what the index holds beside the text.
    public func stemText(_ text: String) -> String {
        let words = SearchText.words(text)
        var seen = Set<String>()
        var out: [String] = []
        // One lock for the whole text: the index asks for every record's text in a batch.
        engines.withLock { engines in
            for word in words {
                let stems = Self.isStemmable(word) ? engines.stems(word) : [word]
                for stem in stems where seen.insert(stem).inserted { out.append(stem) }
            }
        }
        return out.joined(separator: " ")
    }

    /// FNV-1a, 64 bits: enough to tell two dictionary files apart, and stable across runs and machines.
    static func digest(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// The C handles and the cache, owned by one lock.
private struct Engines: ~Copyable {
    let hunspell: OpaquePointer?
    let snowball: OpaquePointer?
    var cache: [String: [String]] = [:]

    init(affixPath: String, dictionaryPath: String) {
        let readable = FileManager.default.isReadableFile(atPath: affixPath)
            && FileManager.default.isReadableFile(atPath: dictionaryPath)
        hunspell = readable ? Hunspell_create(affixPath, dictionaryPath) : nil
        snowball = sb_stemmer_new("indonesian", "UTF_8")
    }

    deinit {
        if let hunspell { Hunspell_destroy(hunspell) }
        if let snowball { sb_stemmer_delete(snowball) }
    }

    mutating func stems(_ word: String) -> [String] {
        if let hit = cache[word] { return hit }
        let found = dictionaryStems(word) ?? confixStems(word) ?? [snowballStem(word)]
        if cache.count >= IndonesianStemmer.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[word] = found
        return found
    }

    /// Hunspell's stems, or nil when the dictionary has no reading of the word. Names are in the dictionary
    /// capitalised, and Hunspell does not fold case, so a lowercase word it lacks is tried capitalised.
    func dictionaryStems(_ word: String) -> [String]? {
        lookUp(word) ?? lookUp(word.prefix(1).uppercased() + word.dropFirst())
    }

    private func lookUp(_ word: String) -> [String]? {
        // The dictionary is ISO 8859-1; a word outside it cannot be in it.
        guard let hunspell, let latin1 = word.data(using: .isoLatin1) else { return nil }
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = (latin1 + [0]).withUnsafeBytes { raw in
            Hunspell_stem(hunspell, &list, raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        defer { if list != nil { Hunspell_free_list(hunspell, &list, count) } }
        guard count > 0, let list else { return nil }
        var stems: [String] = []
        for i in 0..<Int(count) {
            guard let item = list[i] else { continue }
            let bytes = Data(bytes: item, count: strlen(item))
            if let stem = String(data: bytes, encoding: .isoLatin1)?.lowercased(), !stems.contains(stem) { stems.append(stem) }
        }
        return stems.isEmpty ? nil : stems.sorted()
    }

    /// A prefix and suffix around a word the dictionary knows, as in *ke-penduduk-an*.
    func confixStems(_ word: String) -> [String]? {
        for prefix in Self.confixPrefixes where word.hasPrefix(prefix) {
            for suffix in Self.confixSuffixes where word.hasSuffix(suffix) {
                let inner = word.dropFirst(prefix.count).dropLast(suffix.count)
                guard inner.count >= 4 else { continue }
                if let stems = dictionaryStems(String(inner)) { return stems }
            }
        }
        return nil
    }

    static let confixPrefixes = ["ke", "per", "pe", "ber", "se"]
    static let confixSuffixes = ["an", "nya", "annya"]

    func snowballStem(_ word: String) -> String {
        guard let snowball else { return word }
        let bytes = Array(word.utf8)
        guard let stemmed = sb_stemmer_stem(snowball, bytes, Int32(bytes.count)) else { return word }
        let length = Int(sb_stemmer_length(snowball))
        let stem = String(decoding: UnsafeBufferPointer(start: stemmed, count: length), as: UTF8.self)
        return stem.unicodeScalars.count >= 3 ? stem : word
    }
}
