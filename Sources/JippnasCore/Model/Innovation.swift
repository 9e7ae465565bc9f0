/// One public-service innovation as a hub publishes it.
///
/// `id` is stable and hub-scoped; ``globalID(province:)`` is the national key. `revision` grows with
/// every change at the hub (withdrawal included), which is what lets the catalogue order changes
/// per innovation without trusting delivery order. Field limits live in ``InnovationLimits``.
public struct Innovation: Sendable, Hashable, Codable {
    public var id: String
    public var revision: Int64
    public var title: String
    public var agency: String
    public var region: String
    public var category: Category
    public var kind: InnovationKind
    public var stage: Stage
    public var initiator: Initiator?
    public var launchedOn: String?
    public var summary: String?
    public var benefits: String?
    public var contact: String?
    public var url: String?
    public var status: InnovationStatus
    public var replicates: String?
    public var updatedAt: String

    public init(
        id: String, revision: Int64, title: String, agency: String, region: String, category: Category,
        kind: InnovationKind, stage: Stage, initiator: Initiator? = nil, launchedOn: String? = nil,
        summary: String? = nil, benefits: String? = nil, contact: String? = nil, url: String? = nil,
        status: InnovationStatus = .active, replicates: String? = nil, updatedAt: String
    ) {
        self.id = id
        self.revision = revision
        self.title = title
        self.agency = agency
        self.region = region
        self.category = category
        self.kind = kind
        self.stage = stage
        self.initiator = initiator
        self.launchedOn = launchedOn
        self.summary = summary
        self.benefits = benefits
        self.contact = contact
        self.url = url
        self.status = status
        self.replicates = replicates
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, revision, title, agency, region, category, kind, stage, initiator
        case launchedOn = "launched_on"
        case summary, benefits, contact, url, status, replicates
        case updatedAt = "updated_at"
    }

    /// The national key `<province>:<id>`.
    public func globalID(province: String) -> String { GlobalID.make(province: province, id: id) }

    /// The fields an operator edits, without `revision` and `updated_at`: two records with equal
    /// content are the same version, so re-importing an unchanged record makes no new revision.
    public var content: InnovationContent {
        InnovationContent(
            id: id, title: title, agency: agency, region: region, category: category, kind: kind, stage: stage,
            initiator: initiator, launchedOn: launchedOn, summary: summary, benefits: benefits, contact: contact,
            url: url, status: status, replicates: replicates)
    }
}

/// An innovation's editable content: what an import row carries before the hub assigns a revision.
public struct InnovationContent: Sendable, Hashable, Codable {
    public var id: String
    public var title: String
    public var agency: String
    public var region: String
    public var category: Category
    public var kind: InnovationKind
    public var stage: Stage
    public var initiator: Initiator?
    public var launchedOn: String?
    public var summary: String?
    public var benefits: String?
    public var contact: String?
    public var url: String?
    public var status: InnovationStatus
    public var replicates: String?

    public init(
        id: String, title: String, agency: String, region: String, category: Category, kind: InnovationKind,
        stage: Stage, initiator: Initiator? = nil, launchedOn: String? = nil, summary: String? = nil,
        benefits: String? = nil, contact: String? = nil, url: String? = nil, status: InnovationStatus = .active,
        replicates: String? = nil
    ) {
        self.id = id
        self.title = title
        self.agency = agency
        self.region = region
        self.category = category
        self.kind = kind
        self.stage = stage
        self.initiator = initiator
        self.launchedOn = launchedOn
        self.summary = summary
        self.benefits = benefits
        self.contact = contact
        self.url = url
        self.status = status
        self.replicates = replicates
    }

    /// The record at a given revision and change time.
    public func innovation(revision: Int64, updatedAt: String) -> Innovation {
        Innovation(
            id: id, revision: revision, title: title, agency: agency, region: region, category: category,
            kind: kind, stage: stage, initiator: initiator, launchedOn: launchedOn, summary: summary,
            benefits: benefits, contact: contact, url: url, status: status, replicates: replicates,
            updatedAt: updatedAt)
    }
}

/// Global innovation ids: `<province>:<hub-scoped id>`.
public enum GlobalID {
    public static func make(province: String, id: String) -> String { province + ":" + id }

    /// Splits a global id into its hub code and hub-scoped id, or nil when it is not shaped `PP:id`
    /// (a provincial hub's record) or `PP.KK:id` (a kabupaten/kota hub's, relayed by its province).
    public static func parse(_ value: String) -> (province: String, id: String)? {
        guard let colon = value.firstIndex(of: ":") else { return nil }
        let province = String(value[..<colon])
        let id = String(value[value.index(after: colon)...])
        guard HubCode.isValid(province), InnovationLimits.isValidID(id) else { return nil }
        return (province, id)
    }
}
