import Foundation
import Storage

/// The create/get/update/delete/list contract, written once and bound to each object type.
///
/// Optional operations are `nil` where the protocol has none (auth codes cannot be updated,
/// device requests cannot be deleted).
struct CRUDSpec<Object: Equatable & Sendable> {
    typealias Updater = @Sendable (inout Object) throws -> Void

    var make: (_ key: String) -> Object
    var create: (Object) async throws -> Void
    var get: (_ key: String) async throws -> Object
    var update: ((_ key: String, _ updater: @escaping Updater) async throws -> Void)?
    /// A change the update check applies; it must change the object and keep its key.
    var mutate: Updater = { _ in }
    var delete: ((_ key: String) async throws -> Void)?
    var list: (() async throws -> [Object])?

    func run() async throws {
        let a = make("crud-a")
        let b = make("crud-b")

        try await create(a)
        try expectEqual(try await get("crud-a"), a, "get after create")
        try await expectError(.alreadyExists, "create of an existing key") { try await create(a) }
        try await expectError(.notFound, "get of a missing key") { _ = try await get("crud-missing") }

        var current = a
        if let update {
            var expected = a
            try mutate(&expected)
            try expect(expected != a, "the fixture's mutation must change the object")
            try await update("crud-a", mutate)
            try expectEqual(try await get("crud-a"), expected, "get after update")
            current = expected

            let mutate = self.mutate
            try await expectAbort("an updater that throws") {
                try await update("crud-a") { object in
                    try mutate(&object)
                    throw UpdaterAbort()
                }
            }
            try expectEqual(try await get("crud-a"), current, "object after an updater threw")
            try await expectError(.notFound, "update of a missing key") {
                try await update("crud-missing", mutate)
            }
        }

        try await create(b)
        if let list {
            let all = try await list()
            try expectEqual(all.count, 2, "list count")
            try expect(all.contains(current) && all.contains(b), "list returns both objects: \(all)")
        }

        if let delete {
            try await delete("crud-a")
            try await expectError(.notFound, "get after delete") { _ = try await get("crud-a") }
            try await expectError(.notFound, "delete of a missing key") { try await delete("crud-a") }
            try expectEqual(try await get("crud-b"), b, "the other object after a delete")
            if let list {
                try expectEqual(try await list(), [b], "list after delete")
            }
        }
    }
}
