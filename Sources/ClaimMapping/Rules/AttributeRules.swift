import FedgateCore
import Foundation

/// Fills one token field from a chosen upstream attribute (`usernameAttr`, `emailAttr`, ...).
public struct SelectAttributeRule: ClaimRule {
    /// The token fields an attribute can be mapped to. `userID` is not among them: it is part of
    /// the `sub` claim, which must stay stable for existing users.
    public enum Field: String, Sendable, Equatable {
        case username, preferredUsername, email
    }

    public let field: Field
    public let attribute: String

    public init(_ field: Field, from attribute: String) {
        self.field = field
        self.attribute = attribute
    }

    /// A missing username rejects the login (a token without a name is useless and would let
    /// distinct users collide on ""); a missing email or preferred username becomes empty.
    /// An email taken from anything but the upstream's own email is not marked verified: Fedgate
    /// cannot know whether the upstream checked it.
    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        let value = identity.attribute(attribute)
        switch field {
        case .username:
            guard let value else {
                return .reject(reason: "the upstream account has no \(attribute) to use as the username")
            }
            identity.username = value
        case .preferredUsername:
            identity.preferredUsername = value ?? ""
        case .email:
            let email = value ?? ""
            identity.emailVerified = identity.upstream.emailVerified && email == identity.upstream.email && !email.isEmpty
            identity.email = email
        }
        return .continue
    }
}

/// Gives users without an email `<username>@<domain>`, after Dex's LDAP `userSearch.emailSuffix`.
public struct EmailSuffixRule: ClaimRule {
    public let domain: String

    public init(domain: String) { self.domain = domain }

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        guard identity.email.isEmpty, !identity.username.isEmpty else { return .continue }
        identity.email = "\(identity.username)@\(domain)"
        identity.emailVerified = false
        return .continue
    }
}
