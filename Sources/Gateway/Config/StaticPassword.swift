import Connectors
import Foundation
import Yams

/// A local user declared in the config (`staticPasswords[]`, needs `enablePasswordDB: true`).
/// Read-only like Dex's static overlay; served by the built-in `local` connector.
public struct StaticPassword: Sendable, Equatable {
    /// Lower-cased: the password DB is keyed by lower(email), as in Dex.
    public var email: String
    /// A bcrypt hash as text (`$2a$10$...`), already decoded if the config gave base64 of one.
    public var hash: String
    public var username: String
    public var name: String
    public var preferredUsername: String
    public var emailVerified: Bool
    public var userID: String
    public var groups: [String]

    public init(email: String, hash: String, username: String, name: String = "", preferredUsername: String = "",
                emailVerified: Bool = true, userID: String, groups: [String] = []) {
        self.email = email.lowercased(); self.hash = hash; self.username = username; self.name = name
        self.preferredUsername = preferredUsername; self.emailVerified = emailVerified
        self.userID = userID; self.groups = groups
    }

    /// The connector's view of this user.
    public var localUser: LocalUser {
        LocalUser(email: email, hash: hash, username: username, name: name, preferredUsername: preferredUsername,
                  emailVerified: emailVerified, userID: userID, groups: groups)
    }
}

extension StaticPassword: CustomStringConvertible {
    /// Never prints the hash.
    public var description: String { "StaticPassword(email: \(email), username: \(username), userID: \(userID))" }
}

extension StaticPassword {
    private struct Raw: Decodable {
        var email: String?
        var hash: String?
        var hashFromEnv: String?
        var username: String?
        var name: String?
        var preferredUsername: String?
        var emailVerified: Bool?
        var userID: String?
        var groups: [String]?
    }

    /// Dex's `password.UnmarshalJSON`: `hash` wins over `hashFromEnv`; the hash may be bcrypt text or
    /// base64 of it (older Dex configs); email, username and userID are required.
    static func resolve(_ node: Node, at path: String, parser: inout ConfigParser) -> StaticPassword? {
        guard let raw = parser.decode(Raw.self, from: node, at: path) else { return nil }
        let before = parser.problems.count

        let email = nonEmpty(raw.email)
        if email == nil { parser.report("\(path).email", "required") }
        let username = nonEmpty(raw.username)
        if username == nil { parser.report("\(path).username", "required") }
        let userID = nonEmpty(raw.userID)
        if userID == nil { parser.report("\(path).userID", "required") }

        var hash: String?
        if let configured = nonEmpty(raw.hash) {
            hash = normalizedHash(configured, at: "\(path).hash", parser: &parser)
        } else if let variable = nonEmpty(raw.hashFromEnv) {
            if let value = parser.variable(variable, at: "\(path).hashFromEnv") {
                hash = normalizedHash(value, at: "\(path).hashFromEnv", parser: &parser)
            }
        } else {
            parser.report("\(path).hash", "required (or hashFromEnv)")
        }

        guard parser.problems.count == before, let email, let username, let userID, let hash else { return nil }
        return StaticPassword(email: email, hash: hash, username: username, name: raw.name ?? "",
                              preferredUsername: raw.preferredUsername ?? "", emailVerified: raw.emailVerified ?? true,
                              userID: userID, groups: raw.groups ?? [])
    }

    /// The value itself never appears in a message: it is a password hash. Like Dex's login path
    /// (`server/passwords`), a cost outside 10...16 is refused, here at startup instead of at login.
    private static func normalizedHash(_ value: String, at path: String, parser: inout ConfigParser) -> String? {
        guard let hash = BCrypt.normalize(value) else {
            parser.report(path, "not a bcrypt hash (nor base64 of one)")
            return nil
        }
        guard BCrypt.isValid(hash) else {
            let cost = BCrypt.cost(of: hash).map(String.init) ?? "?"
            parser.report(path, "bcrypt cost \(cost) is outside \(BCrypt.acceptedCosts.lowerBound)...\(BCrypt.acceptedCosts.upperBound)")
            return nil
        }
        return hash
    }
}
