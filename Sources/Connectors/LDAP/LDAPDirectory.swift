import FedgateCore
import Foundation
import Logging

/// The directory conversation of a login or refresh, run synchronously on a pool thread with
/// one session: the service bind, the user search, the user bind and the identity. Group
/// lookups are in `LDAPDirectory+Groups.swift`.
struct LDAPDirectory: Sendable {
    let config: LDAPConfig
    let logger: Logger
    let userScope: LDAPScope
    let groupScope: LDAPScope

    init(config: LDAPConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        userScope = LDAPConfig.parseScope(config.userSearch.scope) ?? .subtree
        groupScope = LDAPConfig.parseScope(config.groupSearch.scope) ?? .subtree
    }

    /// What the user search found.
    enum UserLookup {
        case none
        case one(LDAPEntry)
        case many
    }

    // MARK: - Binds

    /// Binds as the service account (`bindDN`/`bindPW`), or anonymously when none is configured,
    /// unless the connection is already bound so. A refusal means the directory cannot be asked
    /// on anyone's behalf, which is an outage for the user, not a verdict on them: `unreachable`,
    /// so a refresh is not turned into a revocation by a rotated service password.
    func bindService(_ session: LDAPSession) throws {
        if session.boundDN == config.bindDN { return }
        let (code, diagnostic) = try session.bind(dn: config.bindDN, password: config.bindPW)
        guard code == 0 else {
            let who = config.bindDN.isEmpty ? "an anonymous bind" : "the service account (bindDN)"
            logger.error("LDAP service bind refused", metadata: ["bindDN": "\(config.bindDN)", "code": "\(code)", "diagnostic": "\(diagnostic)"])
            throw ConnectorError.unreachable("the directory refused \(who): \(LDAPSession.text(code))")
        }
    }

    /// Binds as the user's entry. True for the right password; false for RFC 4511 result 49
    /// (invalidCredentials) and 19 (constraintViolation, which password policies use for locked
    /// or expired accounts), as in Dex. Other refusals are upstream errors.
    func bindUser(_ session: LDAPSession, dn: String, password: String) throws -> Bool {
        let (code, diagnostic) = try session.bind(dn: dn, password: password)
        switch code {
        case 0:
            return true
        case 49, 19:
            logger.info("LDAP user bind refused", metadata: ["dn": "\(dn)", "code": "\(code)"])
            return false
        default:
            logger.error("LDAP user bind failed", metadata: ["dn": "\(dn)", "code": "\(code)", "diagnostic": "\(diagnostic)"])
            throw ConnectorError.upstreamError("the directory could not check the password: \(LDAPSession.text(code))")
        }
    }

    // MARK: - User search

    /// The attributes a user search asks for: the identity's, the group matchers' and the
    /// username attributes. Never `*`, so secrets such as `userPassword` are never fetched.
    var userAttributes: [String] {
        var names = [config.userSearch.idAttr, config.userSearch.emailAttr, config.userSearch.nameAttr,
                     config.userSearch.preferredUsernameAttr] + config.userSearch.username
        names += config.groupSearch.effectiveMatchers.map(\.userAttr)
        var seen = Set<String>()
        return names.filter { !$0.isEmpty && $0.lowercased() != "dn" && seen.insert($0.lowercased()).inserted }
    }

    /// `(&<filter>(<username attr>=<escaped username>))`, with several username attributes OR-ed.
    func userFilter(_ username: String) -> String {
        LDAPFilter.and(config.userSearch.filter, LDAPFilter.anyEquals(config.userSearch.username, Array(username.utf8)))
    }

    /// Searches for the user. A size limit of 2 is enough to tell "one" from "several" without
    /// reading a directory's worth of entries for a hostile name.
    func findUser(_ session: LDAPSession, username: String) throws -> UserLookup {
        let filter = userFilter(username)
        let result = try session.search(base: config.userSearch.baseDN, scope: userScope, filter: filter,
                                        attributes: userAttributes, sizeLimit: 2)
        switch (result.entries.count, result.truncated) {
        case (0, false):
            logger.debug("LDAP user search found no entry", metadata: ["filter": "\(filter)"])
            return .none
        case (1, false):
            return .one(result.entries[0])
        default:
            logger.error("LDAP user search matched several entries", metadata: ["filter": "\(filter)"])
            return .many
        }
    }

    // MARK: - Identity

    /// The identity from the user entry, after Dex's `identityFromEntry`: id, username (from
    /// `nameAttr`), preferred username, email (or `<username>@<emailSuffix>`), email_verified
    /// true, and the fetched attributes as raw claims for claim mapping.
    func identity(from entry: LDAPEntry) throws -> UpstreamIdentity {
        let search = config.userSearch
        var missing: [String] = []
        let userID = entry.string(search.idAttr, binaryEncoding: search.binaryIDEncoding)
        if userID.isEmpty { missing.append(search.idAttr) }
        var username = ""
        if !search.nameAttr.isEmpty {
            username = entry.string(search.nameAttr)
            if username.isEmpty { missing.append(search.nameAttr) }
        }
        var preferredUsername = ""
        if !search.preferredUsernameAttr.isEmpty {
            preferredUsername = entry.string(search.preferredUsernameAttr)
            if preferredUsername.isEmpty { missing.append(search.preferredUsernameAttr) }
        }
        var email: String
        if !search.emailSuffix.isEmpty {
            email = username + "@" + search.emailSuffix
        } else {
            email = entry.string(search.emailAttr)
            if email.isEmpty { missing.append(search.emailAttr) }
        }
        guard missing.isEmpty else {
            logger.error("LDAP user entry lacks required attributes", metadata: ["dn": "\(entry.dn)", "missing": "\(missing)"])
            throw ConnectorError.upstreamError("the directory entry for this user lacks \(missing.joined(separator: ", "))")
        }
        var raw: [String: [String]] = ["dn": [entry.dn]]
        for name in userAttributes {
            let values = entry.strings(name, binaryEncoding: search.binaryIDEncoding)
            if !values.isEmpty { raw[name] = values }
        }
        return UpstreamIdentity(userID: userID, username: username, preferredUsername: preferredUsername,
                                email: email, emailVerified: true, rawClaims: raw)
    }
}

/// What the connector keeps with a refresh token (Dex's `refreshData`, trimmed to what a
/// refresh needs): the username as typed and the DN it resolved to.
struct LDAPRefreshData: Codable, Equatable {
    var username: String
    var dn: String
}
