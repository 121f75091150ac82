import Foundation

/// Group lookups: one search per user matcher (Dex's `groups`), then, beyond Dex, nested groups
/// (Dex #2955) and groups listed on the user itself (Active Directory's `memberOf`).
///
/// - A matcher `{userAttr: DN, groupAttr: member}` finds `groupOfNames` groups by
///   `(member=<user DN>)`; `{userAttr: uid, groupAttr: memberUid}` finds `posixGroup`s.
/// - `groupAttr: DN` means the user attribute already lists group DNs (`memberOf`); the names
///   come from those DNs (read from the entries when a filter or other name attribute needs it).
/// - `recursionGroupAttr` follows groups of groups breadth-first: `DN` (with `member`) finds the
///   groups whose `member` is a found group; with `groupAttr: DN`, `memberOf` on the found group.
///   A set of visited DNs makes cycles harmless, and `groupSearch.maxDepth` bounds the walk.
///
/// Group searches ask for RFC 2696 pages (`groupSearch.pageSize`), so a user in thousands of
/// groups is served by directories whose size limit is lower (Dex #958).
extension LDAPDirectory {
    /// How many values one OR-ed group filter carries.
    static let valuesPerFilter = 50

    func groups(_ session: LDAPSession, user: LDAPEntry) throws -> [String] {
        let search = config.groupSearch
        guard !search.baseDN.isEmpty else { return [] }
        var names: [String] = []
        var seenNames = Set<String>()
        var visited = Set<String>()

        func record(_ found: [LDAPEntry]) throws -> [LDAPEntry] {
            var fresh: [LDAPEntry] = []
            for group in found where visited.insert(LDAPDN.canonical(group.dn)).inserted {
                let name = group.string(search.nameAttr)
                guard !name.isEmpty else {
                    // Dex's rule: a group without its name attribute is a misconfiguration.
                    logger.error("LDAP group lacks its name attribute", metadata: ["dn": "\(group.dn)", "nameAttr": "\(search.nameAttr)"])
                    throw ConnectorError.upstreamError("the directory group \(group.dn) has no \(search.nameAttr)")
                }
                if seenNames.insert(name).inserted { names.append(name) }
                fresh.append(group)
            }
            return fresh
        }

        for matcher in search.effectiveMatchers {
            let nesting = !matcher.recursionGroupAttr.isEmpty && search.maxDepth > 0
            var attributes = [search.nameAttr]
            if nesting && matcher.recursionGroupAttr.lowercased() != "dn" { attributes.append(matcher.recursionGroupAttr) }
            let userValues = user.rawValues(matcher.userAttr)
            if userValues.isEmpty {
                logger.debug("LDAP user has no value for a group matcher", metadata: ["dn": "\(user.dn)", "userAttr": "\(matcher.userAttr)"])
                continue
            }
            var frontier = try record(try lookUp(session, matcher: matcher, values: userValues, attributes: attributes,
                                                 needEntries: nesting))
            var depth = 0
            while nesting && !frontier.isEmpty {
                guard depth < search.maxDepth else {
                    logger.warning("LDAP nested groups deeper than groupSearch.maxDepth were not followed",
                                   metadata: ["dn": "\(user.dn)", "maxDepth": "\(search.maxDepth)"])
                    break
                }
                depth += 1
                let values = frontier.flatMap { $0.rawValues(matcher.recursionGroupAttr) }
                frontier = try record(try lookUp(session, matcher: matcher, values: values, attributes: attributes,
                                                 needEntries: depth < search.maxDepth))
            }
        }
        return names
    }

    /// The groups `values` point at under one matcher: by search on `groupAttr`, or as DNs.
    private func lookUp(_ session: LDAPSession, matcher: LDAPConfig.UserMatcher, values: [[UInt8]],
                        attributes: [String], needEntries: Bool) throws -> [LDAPEntry] {
        if matcher.userListsGroupDNs {
            return try groupsByDN(session, dns: values.map { String(decoding: $0, as: UTF8.self) },
                                  attributes: attributes, needEntries: needEntries)
        }
        var found: [LDAPEntry] = []
        var start = 0
        while start < values.count {
            let chunk = Array(values[start..<min(start + Self.valuesPerFilter, values.count)])
            start += chunk.count
            let clause = chunk.count == 1
                ? LDAPFilter.equality(matcher.groupAttr, chunk[0])
                : "(|" + chunk.map { LDAPFilter.equality(matcher.groupAttr, $0) }.joined() + ")"
            found += try searchGroups(session, filter: LDAPFilter.and(config.groupSearch.filter, clause), attributes: attributes)
        }
        return found
    }

    private func searchGroups(_ session: LDAPSession, filter: String, attributes: [String]) throws -> [LDAPEntry] {
        let result = try session.search(base: config.groupSearch.baseDN, scope: groupScope, filter: filter,
                                        attributes: attributes, pageSize: Int32(config.groupSearch.pageSize))
        if result.truncated {
            logger.error("LDAP group search hit the directory's size limit", metadata: ["filter": "\(filter)"])
            throw ConnectorError.upstreamError("the directory returned only part of this user's groups (size limit reached)")
        }
        return result.entries
    }

    /// Groups named by DN (`memberOf` values). Only DNs within `groupSearch.baseDN` (and scope)
    /// count. When no filter applies and the name attribute is the DN's first RDN (`cn` in
    /// `CN=Admins,OU=Groups,...`), the name is taken from the DN without a round trip;
    /// otherwise each group is read (a base search with the group filter).
    private func groupsByDN(_ session: LDAPSession, dns: [String], attributes: [String], needEntries: Bool) throws -> [LDAPEntry] {
        let search = config.groupSearch
        var found: [LDAPEntry] = []
        for dn in dns where inScope(dn) {
            if search.filter.isEmpty, !needEntries, let rdn = LDAPDN.firstRDN(dn), rdn.type == search.nameAttr.lowercased() {
                found.append(LDAPEntry(dn: dn, attributes: [search.nameAttr: [Array(rdn.value.utf8)]]))
                continue
            }
            let filter = search.filter.isEmpty ? "(objectClass=*)" : search.filter
            found += try session.search(base: dn, scope: .base, filter: filter, attributes: attributes).entries
        }
        return found
    }

    /// Whether a group DN lies where `groupSearch` looks: under `baseDN` for `sub`, directly
    /// beneath it for `one`.
    private func inScope(_ dn: String) -> Bool {
        let base = config.groupSearch.baseDN
        guard LDAPDN.isWithin(dn, base: base) else { return false }
        if groupScope == .oneLevel { return LDAPDN.rdns(dn).count == LDAPDN.rdns(base).count + 1 }
        return LDAPDN.canonical(dn) != LDAPDN.canonical(base)
    }
}
