import GRDB
import JippnasCore
import Synchronization

/// Search results kept in memory until the catalogue next commits: for the web page and the API, where
/// the same few searches come again and again (their frequencies fall off as Zipf's law says) while the
/// catalogue changes a few times a second at most.
///
/// Every write transaction of the store counts up a version (``SearchIndex/bumpVersion``). A lookup reads
/// the version first and only then searches, so a result is never older than the version it is filed
/// under; a commit in between only makes it fresher. Writes from outside the store (a `sqlite3` shell)
/// are not counted until the store's next write, as they are not indexed until then.
public final class CachedSearch: Sendable {
    private struct Key: Hashable {
        var query: CatalogueQuery
        var counts: Bool
    }

    private struct State {
        var version: Int64 = -1
        var pages: [Key: SearchPage] = [:]
    }

    public let store: CatalogueStore
    private let capacity: Int
    private let state = Mutex(State())

    /// Keeps at most `capacity` pages (about 20 KiB each at 20 results); when full, it starts again.
    public init(store: CatalogueStore, capacity: Int = 2000) {
        self.store = store
        self.capacity = max(capacity, 1)
    }

    /// ``CatalogueStore/search(_:counts:)``, from memory when the catalogue has not committed since.
    public func search(_ query: CatalogueQuery, counts: Bool = false) throws(StoreError) -> SearchPage {
        let version = try store.searchVersion()
        let key = Key(query: query, counts: counts)
        let cached: SearchPage? = state.withLock { state in
            if state.version != version {
                state = State(version: version)
                return nil
            }
            return state.pages[key]
        }
        if let cached { return cached }
        let page = try store.search(query, counts: counts)
        state.withLock { state in
            guard state.version == version else { return }
            if state.pages.count >= capacity { state.pages.removeAll(keepingCapacity: true) }
            state.pages[key] = page
        }
        return page
    }
}

extension CatalogueStore {
    /// The count of the store's write transactions (``CachedSearch``).
    func searchVersion() throws(StoreError) -> Int64 {
        try read("read search version") { db in try SearchIndex.version(db) }
    }
}
