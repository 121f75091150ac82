import Foundation

/// The JSON messages of etcd's v3 gRPC gateway (`/v3/kv/range`, `/v3/kv/txn`, …), i.e. the
/// protobuf messages of `etcdserverpb` in proto3 JSON: `bytes` are base64, 64-bit integers are
/// strings, and default values are omitted (so every field here is optional on decode).
enum EtcdMessages {
    struct KeyValue: Decodable {
        var key: Data?
        var value: Data?
        var create_revision: Int64String?
        var mod_revision: Int64String?
        var version: Int64String?
    }

    struct ResponseHeader: Decodable {
        var revision: Int64String?
    }

    struct RangeRequest: Encodable {
        var key: Data
        var range_end: Data?
        var limit: Int64String?
        var keys_only: Bool?
        var count_only: Bool?
        var serializable: Bool?
    }

    struct RangeResponse: Decodable {
        var header: ResponseHeader?
        var kvs: [KeyValue]?
        var more: Bool?
        var count: Int64String?
    }

    struct PutRequest: Encodable {
        var key: Data
        var value: Data
    }

    struct DeleteRangeRequest: Encodable {
        var key: Data
        var range_end: Data?
    }

    struct DeleteRangeResponse: Decodable {
        var deleted: Int64String?
    }

    /// A comparison on one key (`Compare` with its `target_union`).
    struct Compare: Encodable {
        var key: Data
        var result: String = "EQUAL"
        var target: String
        var create_revision: Int64String?
        var mod_revision: Int64String?

        static func created(_ key: Data, revision: Int64) -> Compare {
            Compare(key: key, target: "CREATE", create_revision: Int64String(revision))
        }
        static func modified(_ key: Data, revision: Int64) -> Compare {
            Compare(key: key, target: "MOD", mod_revision: Int64String(revision))
        }
    }

    struct RequestOp: Encodable {
        var request_range: RangeRequest?
        var request_put: PutRequest?
        var request_delete_range: DeleteRangeRequest?
    }

    struct TxnRequest: Encodable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct ResponseOp: Decodable {
        var response_range: RangeResponse?
        var response_delete_range: DeleteRangeResponse?
    }

    struct TxnResponse: Decodable {
        var header: ResponseHeader?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct AuthenticateRequest: Encodable {
        var name: String
        var password: String
    }

    struct AuthenticateResponse: Decodable {
        var token: String?
    }

    /// The gateway's error body (`{"error": "...", "code": 14, "message": "..."}`).
    struct ErrorBody: Decodable {
        var error: String?
        var message: String?
        var code: Int?
    }
}

/// A protobuf `int64` in proto3 JSON: written as a string, accepted as a string or a number.
struct Int64String: Codable, Equatable {
    var value: Int64
    init(_ value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Int64(text) {
            value = number
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an int64")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}
