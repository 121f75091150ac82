import Foundation
import Yams

/// An OAuth2 client declared in the config (`staticClients[]`). Like Dex's `storage/static.go`
/// overlay these are read-only: storage cannot change or delete them.
public struct StaticClient: Sendable, Equatable {
    /// Dex's device-flow redirect (`/device/callback`), relative to the issuer.
    public static let deviceCallbackURI = "/device/callback"
    public var id: String
    /// The client secret, after `secretEnv`; "" for a public client without one. Compare it only
    /// with `ConstantTime.equals`, and never log it.
    public var secret: String
    public var redirectURIs: [String]
    /// Clients allowed to mint tokens for this one (`audience:server:client_id:<id>` scope).
    public var trustedPeers: [String]
    /// A public client (RFC 6749 §2.1: native/SPA) authenticates without a secret. YAML key `public`.
    public var isPublic: Bool
    public var name: String
    public var logoURL: String
    /// Connector ids this client may log in through (Dex's `allowedConnectors`); empty: any.
    public var allowedConnectors: [String]

    public init(id: String, secret: String = "", redirectURIs: [String] = [], trustedPeers: [String] = [],
                isPublic: Bool = false, name: String, logoURL: String = "", allowedConnectors: [String] = []) {
        self.id = id; self.secret = secret; self.redirectURIs = redirectURIs; self.trustedPeers = trustedPeers
        self.isPublic = isPublic; self.name = name; self.logoURL = logoURL; self.allowedConnectors = allowedConnectors
    }
}

extension StaticClient: CustomStringConvertible {
    /// Never prints the secret.
    public var description: String { "StaticClient(id: \(id), name: \(name), public: \(isPublic))" }
}

extension StaticClient {
    private struct Raw: Decodable {
        var id: String?
        var idEnv: String?
        var secret: String?
        var secretEnv: String?
        var isPublic: Bool?
        var name: String?
        var logoURL: String?
        var redirectURIs: [String]?
        var trustedPeers: [String]?
        var allowedConnectors: [String]?

        enum CodingKeys: String, CodingKey {
            case id, idEnv, secret, secretEnv, name, logoURL, redirectURIs, trustedPeers, allowedConnectors
            case isPublic = "public"
        }
    }

    /// Dex's rules (`cmd/dex/serve.go`): a name is required; `id` xor `idEnv`; a confidential client
    /// needs `secret` xor `secretEnv`. Fedgate also insists the named variables are set, because Dex's
    /// silent "" would create a client with an empty ID or secret.
    static func resolve(_ node: Node, at path: String, parser: inout ConfigParser) -> StaticClient? {
        guard let raw = parser.decode(Raw.self, from: node, at: path) else { return nil }
        let before = parser.problems.count
        let isPublic = raw.isPublic ?? false

        var id = nonEmpty(raw.id)
        if let idEnv = nonEmpty(raw.idEnv) {
            if id != nil {
                parser.report("\(path).idEnv", "cannot be combined with id")
            } else {
                id = parser.variable(idEnv, at: "\(path).idEnv")
            }
        } else if id == nil {
            parser.report("\(path).id", "required")
        }

        var secret = nonEmpty(raw.secret)
        if let secretEnv = nonEmpty(raw.secretEnv) {
            if secret != nil {
                parser.report("\(path).secretEnv", "cannot be combined with secret")
            } else {
                secret = parser.variable(secretEnv, at: "\(path).secretEnv")
            }
        } else if secret == nil && !isPublic {
            parser.report("\(path).secret", "required for a confidential client (set secret or secretEnv, or public: true)")
        }

        let name = nonEmpty(raw.name)
        if name == nil { parser.report("\(path).name", "required") }

        for (offset, uri) in (raw.redirectURIs ?? []).enumerated() {
            // Dex's own device-flow callback, which Dex's docs tell device-flow clients to
            // register: kept so the file loads unchanged, never used as a redirect (Fedgate has
            // no device flow; `Gateway.validRedirectURI` refuses it).
            if uri == StaticClient.deviceCallbackURI { continue }
            guard let components = URLComponents(string: uri), components.scheme != nil else {
                parser.report(ConfigPath.index("\(path).redirectURIs", offset), "not an absolute URI: \"\(uri)\"")
                continue
            }
            if components.fragment != nil {
                // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
                parser.report(ConfigPath.index("\(path).redirectURIs", offset), "must not contain a fragment")
            }
        }

        guard parser.problems.count == before, let id, let name else { return nil }
        return StaticClient(id: id, secret: secret ?? "", redirectURIs: raw.redirectURIs ?? [],
                            trustedPeers: raw.trustedPeers ?? [], isPublic: isPublic, name: name,
                            logoURL: raw.logoURL ?? "", allowedConnectors: raw.allowedConnectors ?? [])
    }
}
