import Storage
import StorageConformance
import Testing

@Suite("MemoryStorage")
struct MemoryStorageTests {
    @Test("conformance", arguments: StorageConformance.all)
    func conformance(_ c: ConformanceCase) async throws {
        try await c.run { MemoryStorage() }
    }
}
