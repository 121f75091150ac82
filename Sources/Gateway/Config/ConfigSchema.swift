import Connectors
import Foundation
import Yams

/// The shape of Dex's config keys, used before decoding to do what Go's `encoding/json` does for
/// Dex: match keys case-insensitively (`redirectUris` finds `redirectURIs`) and, only when
/// `DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS`/`FEDGATE_CONFIG_DISALLOW_UNKNOWN_FIELDS` is true, report
/// keys nobody reads. Blocks owned by someone else (connector configs, headers, `extra`) are `.any`.
indirect enum KeySchema: Sendable {
    case object([String: KeySchema])
    case list(KeySchema)
    case any

    /// A connector's declared config keys (`ConnectorConfiguration.configKeys`).
    init(_ keys: ConfigKeys) {
        switch keys {
        case .fields(let fields): self = .object(fields.mapValues(KeySchema.init))
        case .list(let element): self = .list(KeySchema(element))
        case .any: self = .any
        }
    }

    /// A mapping whose keys are all plain values (or free-form below them).
    static func keys(_ names: String...) -> KeySchema {
        .object(Dictionary(uniqueKeysWithValues: names.map { ($0, .any) }))
    }

    /// Dex's `cmd/dex/config.go` `Config`, plus Fedgate's `expiry.authCodes` and
    /// `connectors[].claimMapping`. Keys Dex has but Fedgate does not act on (grpc, sessions, mfa,
    /// telemetry.enableProfiling, ...) are listed so Dex configs pass the strict check unchanged.
    static let fedgate: KeySchema = .object([
        "issuer": .any,
        "storage": .object(["type": .any, "config": .any]),
        "web": .object([
            "http": .any, "https": .any, "tlsCert": .any, "tlsKey": .any,
            "tlsMinVersion": .any, "tlsMaxVersion": .any, "headers": .any,
            "allowedOrigins": .any, "allowedHeaders": .any, "clientRemoteIP": .keys("header", "trustedProxies"),
        ]),
        "grpc": .any,
        "telemetry": .keys("http", "enableProfiling"),
        "expiry": .object([
            "signingKeys": .any, "idTokens": .any, "authRequests": .any, "deviceRequests": .any, "authCodes": .any,
            "refreshTokens": .keys("disableRotation", "reuseInterval", "validIfNotUsedFor", "absoluteLifetime"),
        ]),
        "logger": .keys("level", "format", "excludeFields"),
        "oauth2": .object([
            "grantTypes": .any, "responseTypes": .any, "skipApprovalScreen": .any, "alwaysShowLoginScreen": .any,
            "passwordConnector": .any, "pkce": .keys("enforce", "codeChallengeMethodsSupported"),
            "passwordPolicy": .keys("maxFailures", "maxFailuresPerIP", "window", "lockout", "maxLockout"),
            "deviceFlow": .any,
        ]),
        "frontend": .keys("dir", "theme", "issuer", "logoURL", "extra"),
        "staticClients": .list(.keys(
            "id", "idEnv", "secret", "secretEnv", "public", "name", "logoURL", "redirectURIs", "trustedPeers",
            "allowedConnectors", "postLogoutRedirectURIs", "backchannelLogoutURI", "refreshTokenLifetime",
            "ssoSharedWith", "mfaChain", "clientCredentialsClaims"
        )),
        "connectors": .list(.keys("type", "id", "name", "config", "grantTypes", "claimMapping")),
        "enablePasswordDB": .any,
        "staticPasswords": .list(.keys(
            "email", "hash", "hashFromEnv", "username", "name", "preferredUsername", "emailVerified", "userID", "groups"
        )),
        "signer": .object(["type": .any, "config": .any]),
        "sessions": .any,
        "mfa": .any,
    ])

    /// Returns `node` with keys renamed to their canonical spelling, reporting unknown keys into
    /// `problems` when `strict`. Nodes under `.any` are returned untouched.
    func canonicalize(_ node: Node, at path: String, strict: Bool, problems: inout [ConfigProblem]) -> Node {
        switch (self, node) {
        case (.object(let fields), .mapping(let mapping)):
            var pairs: [(Node, Node)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string, key.tag.description != Tag.Name.merge.rawValue else {
                    pairs.append((key, value))
                    continue
                }
                let canonical = fields[name] != nil ? name : fields.keys.first { $0.lowercased() == name.lowercased() }
                guard let canonical, let child = fields[canonical] else {
                    if strict { problems.append(ConfigProblem(ConfigPath.join(path, name), "unknown field")) }
                    pairs.append((key, value))
                    continue
                }
                let childPath = ConfigPath.join(path, canonical)
                let renamed = canonical == name ? key : Node(canonical)
                pairs.append((renamed, child.canonicalize(value, at: childPath, strict: strict, problems: &problems)))
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case (.list(let element), .sequence(let sequence)):
            let items = sequence.enumerated().map { offset, item in
                element.canonicalize(item, at: ConfigPath.index(path, offset), strict: strict, problems: &problems)
            }
            return .sequence(Node.Sequence(items, sequence.tag, sequence.style, sequence.mark))
        default:
            // `.any`, or a shape mismatch that decoding reports with a proper "expected ..." message.
            return node
        }
    }
}
