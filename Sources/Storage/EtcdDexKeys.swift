import Foundation

/// The key set singleton at `openid-connect-keys` (etcd `Keys`: `signing_key`, `signing_key_pub`,
/// `verification_keys[{publicKey, expiry}]`, `next_rotation`; keys are JSON Web Keys).
///
/// Dex stores its private signing key as a JWK; Fedgate keeps PKCS#8 PEM (`SigningKey`), and
/// converting between the two needs a crypto library the storage layer does not link. So:
/// - Fedgate writes Dex's public fields (`signing_key_pub`, `verification_keys`, `next_rotation`)
///   for Dex readers and its own exact key set under `fedgate_keys`; it never writes
///   `signing_key`, so a Dex reading the value rotates at once and keeps publishing ours.
/// - Reading a value Dex wrote (no `fedgate_keys`), Dex's current public key becomes a
///   verification key, kept until `next_rotation` plus 24 h (Dex's default ID token lifetime,
///   the longest a token it signed can live), and there is no signing key, so Fedgate's key
///   manager rotates immediately: tokens Dex issued keep verifying and new ones use Fedgate's key.
extension Keys: EtcdValue {
    private struct Record: Codable {
        var signing_key_pub: JSONValue?
        var verification_keys: [DexVerificationKey]?
        var next_rotation: Date?
        var fedgate_keys: FedgateKeys?
    }

    private struct DexVerificationKey: Codable {
        var publicKey: JSONValue?
        var expiry: Date?
    }

    /// Fedgate's own fields, exactly as the model has them.
    private struct FedgateKeys: Codable {
        var signingKey: SigningKey?
        var nextSigningKey: SigningKey?
        var verificationKeys: [VerificationKey]
        var nextRotation: Date
    }

    /// Dex's default `expiry.idTokens`.
    static let dexDefaultIDTokenLifetime: TimeInterval = 24 * 3600

    static func etcdDecode(_ data: Data) throws -> Keys {
        let r = try EtcdJSON.decode(Record.self, data, as: "keys")
        if let own = r.fedgate_keys {
            return Keys(signingKey: own.signingKey, nextSigningKey: own.nextSigningKey,
                        verificationKeys: own.verificationKeys, nextRotation: own.nextRotation)
        }
        return try fromDex(signingKeyPub: r.signing_key_pub,
                           verificationKeys: (r.verification_keys ?? []).map { ($0.publicKey, $0.expiry) },
                           nextRotation: r.next_rotation)
    }

    /// The key set Fedgate uses for one Dex wrote (in etcd or in Dex's SQL `keys` row): Dex's
    /// public keys become verification keys, the current one kept until `nextRotation` plus Dex's
    /// default ID token lifetime, and there is no signing key, so Fedgate rotates at once.
    static func fromDex(signingKeyPub: JSONValue?, verificationKeys: [(publicKey: JSONValue?, expiry: Date?)],
                        nextRotation: Date?) throws -> Keys {
        let nextRotation = nextRotation ?? Date(timeIntervalSince1970: 0)
        var verification: [VerificationKey] = []
        for key in verificationKeys {
            guard let jwk = key.publicKey, let kid = jwk.kid else { continue }
            verification.append(VerificationKey(kid: kid, publicJWK: try jwk.jsonText(),
                                                expiry: key.expiry ?? Date(timeIntervalSince1970: 0)))
        }
        if let current = signingKeyPub, let kid = current.kid, !verification.contains(where: { $0.kid == kid }) {
            verification.append(VerificationKey(kid: kid, publicJWK: try current.jsonText(),
                                                expiry: nextRotation.addingTimeInterval(dexDefaultIDTokenLifetime)))
        }
        // Epoch: rotate at once (there is no private key Fedgate can use).
        return Keys(signingKey: nil, nextSigningKey: nil, verificationKeys: verification,
                    nextRotation: Date(timeIntervalSince1970: 0))
    }

    func etcdEncode() throws -> Data {
        var dexVerification = try verificationKeys.map {
            DexVerificationKey(publicKey: try JSONValue(jsonText: $0.publicJWK), expiry: $0.expiry)
        }
        // Dex publishes signing_key_pub plus verification_keys; the pre-published next key must be
        // among them for a Dex replica to serve the same /keys.
        if let next = nextSigningKey {
            dexVerification.append(DexVerificationKey(publicKey: try JSONValue(jsonText: next.publicJWK),
                                                      expiry: nextRotation.addingTimeInterval(Self.dexDefaultIDTokenLifetime)))
        }
        return try EtcdJSON.encode(Record(
            signing_key_pub: try signingKey.map { try JSONValue(jsonText: $0.publicJWK) },
            verification_keys: dexVerification, next_rotation: nextRotation,
            fedgate_keys: FedgateKeys(signingKey: signingKey, nextSigningKey: nextSigningKey,
                                      verificationKeys: verificationKeys, nextRotation: nextRotation)))
    }
}

/// Any JSON value, for JWKs embedded in Dex's records (decoded and encoded by Foundation's JSON
/// coders, never parsed by hand).
enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    init(jsonText: String) throws {
        do {
            self = try JSONDecoder().decode(JSONValue.self, from: Data(jsonText.utf8))
        } catch {
            throw StorageError.corrupt("a stored JWK is not JSON: \(error)")
        }
    }

    /// Compact JSON text with sorted keys.
    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The `kid` member of a JWK object.
    var kid: String? {
        guard case .object(let members) = self, case .string(let kid)? = members["kid"] else { return nil }
        return kid
    }
}
