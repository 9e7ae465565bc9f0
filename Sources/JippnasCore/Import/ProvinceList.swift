import CSV
import Foundation

/// Hub codes from a CSV shaped like `seeds/provinces.csv` or `seeds/regions.csv` (`code,...,jipp_hub`).
public enum ProvinceList {
    /// The codes of the rows (only those with `jipp_hub` = `yes` when `onlyHubs`), in file order: province
    /// codes, or with `regions` kabupaten/kota codes `PP.KK`. A row with an unknown code refuses the file,
    /// naming its line.
    public static func codes(csv data: Data, fileName: String, onlyHubs: Bool, regions: Bool = false) throws(ImportFileError)
        -> [String]
    {
        guard let text = String(validating: data, as: UTF8.self),
              let reader = try? CSVReader(string: text, hasHeaderRow: true, trimFields: true),
              let header = reader.headerRow else {
            throw ImportFileError(file: fileName, detail: "not a UTF-8 CSV file with a header row")
        }
        guard let codeColumn = header.firstIndex(of: "code") else {
            throw ImportFileError(file: fileName, detail: "the header needs a 'code' column")
        }
        let hubColumn = header.firstIndex(of: "jipp_hub")
        if onlyHubs && hubColumn == nil {
            throw ImportFileError(file: fileName, detail: "the header has no 'jipp_hub' column (use --all-provinces)")
        }
        var codes: [String] = []
        var line = 1
        while let row = reader.next() {
            line += 1
            if row.count == 1 && row[0].isEmpty { continue }
            guard row.count == header.count else {
                throw ImportFileError(file: fileName, detail: "line \(line): \(row.count) fields, header has \(header.count)")
            }
            guard regions ? RegionCode.isValid(row[codeColumn]) : ProvinceRegistry.isProvinceCode(row[codeColumn]) else {
                throw ImportFileError(file: fileName, detail: "line \(line): \(row[codeColumn]) is not a Kemendagri "
                                      + (regions ? "kabupaten/kota code (PP.KK)" : "province code"))
            }
            if !onlyHubs || row[hubColumn!] == "yes" { codes.append(row[codeColumn]) }
        }
        return codes
    }
}
