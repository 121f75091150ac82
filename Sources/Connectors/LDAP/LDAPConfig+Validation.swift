import Foundation

/// Config-time checks, each reported under the Dex key it concerns (`userSearch.baseDN: required`)
/// so `fedgate validate` points at the field. Files (rootCA, clientCert) are read by `open`, not
/// here, so a config can be validated on a machine that lacks them.
extension LDAPConfig {
    public func validate() -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        func report(_ path: String, _ message: String) { problems.append(ConfigProblem(path, message)) }

        // Connection and TLS.
        if host.trimmingCharacters(in: .whitespaces).isEmpty {
            report("host", "required")
        } else if LDAPEndpoint.splitHost(host, defaultPort: 389) == nil {
            report("host", "must be host or host:port (no ldap:// scheme), e.g. ldap.example.com:636")
        }
        // insecureNoSSL wins over startTLS and the TLS files, as in Dex (`connector/ldap`); Dex
        // configs that set both load unchanged, and `open` logs what is ignored.
        if !rootCAData.isEmpty && LDAPEndpoint.decodeRootCAData(rootCAData) == nil {
            report("rootCAData", "must be PEM certificates, or base64 of them as Dex writes it")
        }
        if clientCert.isEmpty != clientKey.isEmpty {
            report(clientCert.isEmpty ? "clientCert" : "clientKey", "clientCert and clientKey must be given together")
        }
        if !bindDN.isEmpty && bindPW.isEmpty {
            // RFC 4513 §5.1.2: a DN with an empty password is an unauthenticated bind, not a login.
            report("bindPW", "required when bindDN is set (an empty password would make an unauthenticated bind)")
        }
        if bindDN.isEmpty && !bindPW.isEmpty {
            report("bindDN", "required when bindPW is set")
        }
        if !(connectTimeout > 0 && connectTimeout <= 300) { report("connectTimeout", "must be between 0 and 300 seconds") }
        if !(requestTimeout > 0 && requestTimeout <= 300) { report("requestTimeout", "must be between 0 and 300 seconds") }
        if !(1...64).contains(maxConnections) { report("maxConnections", "must be between 1 and 64") }

        // User search.
        if userSearch.baseDN.isEmpty { report("userSearch.baseDN", "required") }
        if userSearch.username.isEmpty { report("userSearch.username", "required") }
        for name in userSearch.username where !LDAPFilter.isAttributeDescription(name) {
            report("userSearch.username", "\"\(name)\" is not an attribute name")
        }
        if !userSearch.filter.isEmpty && !LDAPFilter.isWellFormed(userSearch.filter) {
            report("userSearch.filter", "must be one parenthesised LDAP filter, e.g. (objectClass=person)")
        }
        if Self.parseScope(userSearch.scope) == nil { report("userSearch.scope", "must be sub or one") }
        let userAttributes: [(String, String)] = [
            ("userSearch.idAttr", userSearch.idAttr), ("userSearch.emailAttr", userSearch.emailAttr),
            ("userSearch.nameAttr", userSearch.nameAttr), ("userSearch.preferredUsernameAttr", userSearch.preferredUsernameAttr),
        ]
        for (path, name) in userAttributes where !name.isEmpty && !LDAPFilter.isAttributeDescription(name) {
            report(path, "\"\(name)\" is not an attribute name")
        }
        if userSearch.emailSuffix.contains("@") || userSearch.emailSuffix.contains(where: \.isWhitespace) {
            report("userSearch.emailSuffix", "must be a domain without @, e.g. example.com")
        }
        if !userSearch.emailSuffix.isEmpty && userSearch.nameAttr.isEmpty {
            // Dex builds the email as <nameAttr value>@<emailSuffix>.
            report("userSearch.nameAttr", "required with emailSuffix (the email is <nameAttr>@<emailSuffix>)")
        }

        // Group search (optional as a whole, as in Dex).
        if !groupSearch.baseDN.isEmpty {
            if groupSearch.nameAttr.isEmpty { report("groupSearch.nameAttr", "required with groupSearch.baseDN") }
            let matchers = groupSearch.effectiveMatchers
            if matchers.isEmpty {
                report("groupSearch.userMatchers", "required with groupSearch.baseDN (or the legacy userAttr and groupAttr)")
            }
            for (index, matcher) in matchers.enumerated() {
                let path = groupSearch.userMatchers.isEmpty ? "groupSearch" : "groupSearch.userMatchers[\(index)]"
                for (key, value) in [("userAttr", matcher.userAttr), ("groupAttr", matcher.groupAttr)] {
                    if value.isEmpty {
                        report("\(path).\(key)", "required")
                    } else if !LDAPFilter.isAttributeDescription(value) {
                        report("\(path).\(key)", "\"\(value)\" is not an attribute name")
                    }
                }
                if !matcher.recursionGroupAttr.isEmpty && !LDAPFilter.isAttributeDescription(matcher.recursionGroupAttr) {
                    report("\(path).recursionGroupAttr", "\"\(matcher.recursionGroupAttr)\" is not an attribute name")
                }
            }
            if !groupSearch.filter.isEmpty && !LDAPFilter.isWellFormed(groupSearch.filter) {
                report("groupSearch.filter", "must be one parenthesised LDAP filter, e.g. (objectClass=groupOfNames)")
            }
            if Self.parseScope(groupSearch.scope) == nil { report("groupSearch.scope", "must be sub or one") }
            if !(0...64).contains(groupSearch.maxDepth) { report("groupSearch.maxDepth", "must be between 0 and 64") }
            if !(1...10_000).contains(groupSearch.pageSize) { report("groupSearch.pageSize", "must be between 1 and 10000") }
        }
        return problems
    }

    /// Dex accepts `sub` (the default) and `one`; a base-object search makes no sense when the
    /// DN is what is being looked for.
    static func parseScope(_ scope: String) -> LDAPScope? {
        switch scope {
        case "", "sub": return .subtree
        case "one": return .oneLevel
        default: return nil
        }
    }
}
