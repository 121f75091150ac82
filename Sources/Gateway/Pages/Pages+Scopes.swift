import FedgateCore

extension Pages {
    /// What the consent screen tells the user each scope grants, as Dex's `scopeDescriptions`
    /// (`server/templates.go`). `openid` grants nothing beyond the login itself, so it is not
    /// shown; unknown scopes were already rejected at `/auth`, so they are dropped here.
    static let scopeDescriptionTable: [String: String] = [
        Scope.email: "View your email address",
        Scope.profile: "View basic profile information",
        Scope.groups: "View your groups",
        Scope.offlineAccess: "Have offline access",
        Scope.federatedID: "View your connector identity",
    ]

    /// The descriptions for `scopes`, sorted and without duplicates (Dex sorts them too).
    /// A cross-client scope `audience:server:client_id:<peer>` reads "Issue tokens for <peer>".
    static func scopeDescriptions(_ scopes: [String]) -> [String] {
        var descriptions = Set<String>()
        for scope in scopes {
            if let description = scopeDescriptionTable[scope] {
                descriptions.insert(description)
            } else if scope.hasPrefix(Scope.crossClientPrefix) {
                let peer = scope.dropFirst(Scope.crossClientPrefix.count)
                if !peer.isEmpty { descriptions.insert("Issue tokens for \(peer)") }
            }
        }
        return descriptions.sorted()
    }
}
