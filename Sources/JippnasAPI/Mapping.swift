internal import Foundation
import JippnasCore
import JippnasStore

/// The store's records as the API's generated types.
enum Mapping {
    static func innovation(_ e: CatalogueEntry, rank: Double? = nil) -> Components.Schemas.Innovation {
        let i = e.innovation
        return .init(
            globalId: e.globalID, province: e.hub, provinceName: ProvinceRegistry.province(code: e.hub)?.name, id: i.id,
            revision: i.revision, title: i.title, agency: i.agency, region: i.region,
            category: Components.Schemas.Category(rawValue: i.category.rawValue) ?? .tataKelolaPemerintahan,
            kind: Components.Schemas.Kind(rawValue: i.kind.rawValue) ?? .digital,
            stage: Components.Schemas.Stage(rawValue: i.stage.rawValue) ?? .inisiatif,
            initiator: i.initiator?.rawValue, launchedOn: i.launchedOn, summary: i.summary, benefits: i.benefits,
            contact: i.contact, url: i.url, status: Components.Schemas.Status(rawValue: i.status.rawValue) ?? .active,
            replicates: i.replicates, updatedAt: i.updatedAt, withdrawn: e.withdrawn, withdrawnAt: e.withdrawnAt,
            receivedAt: e.receivedAt, hubEpoch: e.hubEpoch, orphanedAt: e.orphanedAt, rank: rank)
    }

    static func result(_ hit: SearchHit) -> Components.Schemas.Innovation {
        var result = innovation(hit.entry, rank: hit.rank)
        result.snippet = hit.snippet.map { $0.map { .init(text: $0.text, match: $0.match) } }
        return result
    }

    /// Counts, most first, each with its label when it has one.
    static func counts(_ values: [String: Int], label: (String) -> String? = { _ in nil }) -> [Components.Schemas.Count] {
        values.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { .init(key: $0.key, label: label($0.key), count: $0.value) }
    }

    static func facets(_ c: SearchCounts) -> Components.Schemas.SearchFacets {
        .init(byProvince: counts(c.byProvince) { ProvinceRegistry.province(code: $0)?.name },
                     byCategory: counts(c.byCategory) { Category(rawValue: $0)?.indonesianName },
                     byStage: counts(c.byStage), byKind: counts(c.byKind),
                     byYear: c.byYear.sorted { $0.key < $1.key }.map { .init(key: $0.key, count: $0.value) })
    }

    static func related(_ r: RelatedInnovation) -> Components.Schemas.Related {
        .init(globalId: r.globalID, title: r.title, region: r.region,
              stage: Components.Schemas.Stage(rawValue: r.stage.rawValue) ?? .inisiatif, withdrawn: r.withdrawn)
    }

    static func detail(_ d: InnovationDetail) -> Components.Schemas.InnovationDetail {
        .init(innovation: innovation(d.entry),
              history: d.history.map { h in
                  .init(revision: h.revision, event: h.event == "withdraw" ? .withdraw : .upsert, hub: h.hub, hubEpoch: h.hubEpoch,
                        seq: h.seq, messageId: h.messageID, sentAt: h.sentAt, receivedAt: h.receivedAt)
              },
              replicates: d.replicates.map(related), replicatedBy: d.replicatedBy.map(related))
    }

    static func hub(_ h: HubState, now: Date) -> Components.Schemas.Hub {
        let silence = Timestamp.parse(h.lastMessageAt).map { Int64(now.timeIntervalSince($0).rounded(.down)) } ?? 0
        return .init(hub: h.hub, provinceName: ProvinceRegistry.province(code: h.hub)?.name ?? h.hub, epoch: h.epoch,
                     live: h.live, withdrawn: h.withdrawn, highestSeq: h.highestSeq, contiguousSeq: h.contiguousSeq,
                     missingSeqs: max(h.highestSeq - h.contiguousSeq, 0), gapSince: h.gapSince, lastMessageAt: h.lastMessageAt,
                     secondsSinceLastMessage: max(silence, 0), lastCheckpointAt: h.lastCheckpointAt, applied: h.applied,
                     duplicates: h.duplicates, stale: h.stale, deadLetters: h.deadLetters)
    }

    static func stats(_ f: CatalogueFacets) -> Components.Schemas.Stats {
        .init(
            live: f.live, withdrawn: f.withdrawn, lastChangeAt: f.lastChangeAt,
            byProvince: counts(f.byProvince) { ProvinceRegistry.province(code: $0)?.name },
            byCategory: counts(f.byCategory) { Category(rawValue: $0)?.indonesianName },
            byStage: counts(f.byStage), byKind: counts(f.byKind),
            byYear: f.byYear.sorted { $0.key < $1.key }.map { .init(key: $0.key, count: $0.value) },
            mostReplicated: f.mostReplicated.map { .init(innovation: related($0.innovation), replications: $0.replications) },
            replicatingProvinces: counts(f.replicatingProvinces) { ProvinceRegistry.province(code: $0)?.name })
    }
}
