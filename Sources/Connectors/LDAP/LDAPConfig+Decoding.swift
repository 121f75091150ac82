import Foundation

/// Decoding with Dex's JSON keys. Missing keys keep Dex's zero values or defaults (`idAttr: uid`,
/// `emailAttr: mail`), so `validate()` can report every problem by its field name at once
/// instead of the decoder stopping at the first missing key.
extension LDAPConfig {
    /// Every key Dex's LDAP config has (and Fedgate's additions), for case-insensitive matching.
    public static var configKeys: ConfigKeys {
        var top = Dictionary(uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, ConfigKeys.any) })
        top[CodingKeys.userSearch.rawValue] = .names(UserSearchKeys.allCases.map(\.rawValue))
        var group = Dictionary(uniqueKeysWithValues: GroupSearchKeys.allCases.map { ($0.rawValue, ConfigKeys.any) })
        group[GroupSearchKeys.userMatchers.rawValue] = .list(.names(["userAttr", "groupAttr", "recursionGroupAttr"]))
        top[CodingKeys.groupSearch.rawValue] = .fields(group)
        return .fields(top)
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case host, insecureNoSSL, insecureSkipVerify, startTLS, rootCA, rootCAData, clientCert, clientKey
        case bindDN, bindPW, usernamePrompt, userSearch, groupSearch
        case connectTimeout, requestTimeout, maxConnections
    }

    private enum UserSearchKeys: String, CodingKey, CaseIterable {
        case baseDN, filter, username, scope, idAttr, emailAttr, nameAttr, preferredUsernameAttr, emailSuffix, binaryIDEncoding
    }

    private enum GroupSearchKeys: String, CodingKey, CaseIterable {
        case baseDN, filter, scope, userAttr, groupAttr, userMatchers, nameAttr, maxDepth, pageSize
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? ""
        insecureNoSSL = try c.decodeIfPresent(Bool.self, forKey: .insecureNoSSL) ?? false
        insecureSkipVerify = try c.decodeIfPresent(Bool.self, forKey: .insecureSkipVerify) ?? false
        startTLS = try c.decodeIfPresent(Bool.self, forKey: .startTLS) ?? false
        rootCA = try c.decodeIfPresent(String.self, forKey: .rootCA) ?? ""
        rootCAData = try c.decodeIfPresent(String.self, forKey: .rootCAData) ?? ""
        clientCert = try c.decodeIfPresent(String.self, forKey: .clientCert) ?? ""
        clientKey = try c.decodeIfPresent(String.self, forKey: .clientKey) ?? ""
        bindDN = try c.decodeIfPresent(String.self, forKey: .bindDN) ?? ""
        bindPW = try c.decodeIfPresent(String.self, forKey: .bindPW) ?? ""
        usernamePrompt = try c.decodeIfPresent(String.self, forKey: .usernamePrompt) ?? ""
        connectTimeout = try Self.decodeSeconds(c, .connectTimeout) ?? 5
        requestTimeout = try Self.decodeSeconds(c, .requestTimeout) ?? 10
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? 4

        if c.contains(.userSearch), try !c.decodeNil(forKey: .userSearch) {
            let u = try c.nestedContainer(keyedBy: UserSearchKeys.self, forKey: .userSearch)
            userSearch.baseDN = try u.decodeIfPresent(String.self, forKey: .baseDN) ?? ""
            userSearch.filter = try u.decodeIfPresent(String.self, forKey: .filter) ?? ""
            if let list = try? u.decodeIfPresent([String].self, forKey: .username) {
                userSearch.username = list
            } else if let single = try u.decodeIfPresent(String.self, forKey: .username) {
                // Dex's string form; a comma-separated list is accepted as Dex master does.
                userSearch.username = single.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
            }
            userSearch.scope = try u.decodeIfPresent(String.self, forKey: .scope) ?? ""
            userSearch.idAttr = Self.nonEmpty(try u.decodeIfPresent(String.self, forKey: .idAttr)) ?? "uid"
            userSearch.emailAttr = Self.nonEmpty(try u.decodeIfPresent(String.self, forKey: .emailAttr)) ?? "mail"
            userSearch.nameAttr = try u.decodeIfPresent(String.self, forKey: .nameAttr) ?? ""
            userSearch.preferredUsernameAttr = try u.decodeIfPresent(String.self, forKey: .preferredUsernameAttr) ?? ""
            userSearch.emailSuffix = try u.decodeIfPresent(String.self, forKey: .emailSuffix) ?? ""
            if let encoding = try u.decodeIfPresent(String.self, forKey: .binaryIDEncoding) {
                guard let value = LDAPBinaryEncoding(rawValue: encoding) else {
                    throw DecodingError.dataCorruptedError(forKey: .binaryIDEncoding, in: u,
                                                           debugDescription: "must be base64 or hex")
                }
                userSearch.binaryIDEncoding = value
            }
        }

        if c.contains(.groupSearch), try !c.decodeNil(forKey: .groupSearch) {
            let g = try c.nestedContainer(keyedBy: GroupSearchKeys.self, forKey: .groupSearch)
            groupSearch.baseDN = try g.decodeIfPresent(String.self, forKey: .baseDN) ?? ""
            groupSearch.filter = try g.decodeIfPresent(String.self, forKey: .filter) ?? ""
            groupSearch.scope = try g.decodeIfPresent(String.self, forKey: .scope) ?? ""
            groupSearch.userAttr = try g.decodeIfPresent(String.self, forKey: .userAttr) ?? ""
            groupSearch.groupAttr = try g.decodeIfPresent(String.self, forKey: .groupAttr) ?? ""
            groupSearch.userMatchers = try g.decodeIfPresent([UserMatcher].self, forKey: .userMatchers) ?? []
            groupSearch.nameAttr = try g.decodeIfPresent(String.self, forKey: .nameAttr) ?? ""
            groupSearch.maxDepth = try g.decodeIfPresent(Int.self, forKey: .maxDepth) ?? 10
            groupSearch.pageSize = try g.decodeIfPresent(Int.self, forKey: .pageSize) ?? 500
        }
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// A number of seconds (`5`, `0.5`) or a Go duration string (`5s`, `500ms`, `1m`).
    private static func decodeSeconds(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Double? {
        guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
        if let number = try? c.decode(Double.self, forKey: key) { return number }
        let text = try c.decode(String.self, forKey: key)
        guard let seconds = parseDuration(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c,
                                                   debugDescription: "expected seconds or a duration such as 5s or 500ms")
        }
        return seconds
    }

    /// Go's `time.ParseDuration` units that make sense here: ms, s, m, h, possibly combined (`1m30s`).
    static func parseDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * factor
        }
        return total
    }
}
