import Storage

/// The conformance suite every `GatewayStorage` backend runs, grouped like Dex's
/// `storage/conformance` (`RunTests`, `RunTransactionTests`, `RunConcurrencyTests`).
///
/// Every case gets fresh stores from the factory it is run with. See `ConformanceCase`.
public enum StorageConformance {
    /// CRUD and listing of every object type, keys, garbage collection and time-zone independence.
    public static let crud: [ConformanceCase] = CRUDCases.all + ListCases.all + GarbageCollectionCases.all
        + TimeZoneCases.all
    /// Conflicting updates of one object. See `TransactionCases` for the semantics required.
    public static let transactions: [ConformanceCase] = TransactionCases.all
    /// Parallel writers with no lost update.
    public static let concurrency: [ConformanceCase] = ConcurrencyCases.all

    public static var all: [ConformanceCase] { crud + transactions + concurrency }
}
