import FedgateCore
import Foundation

/// Takes the groups from a raw-claims attribute instead of the connector's groups (`groupsAttr`).
public struct GroupsSourceRule: ClaimRule {
    public let attribute: String

    public init(attribute: String) { self.attribute = attribute }

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        identity.groups = identity.attributeValues(attribute)
        return .continue
    }
}

/// Admits only members of at least one of `allowed` (`allowedGroups`), like Dex's per-connector
/// `allowedGroups`/`orgs` checks, which also compare the upstream names.
public struct RequireAnyGroupRule: ClaimRule {
    public let allowed: Set<String>

    public init(_ allowed: some Sequence<String>) { self.allowed = Set(allowed) }

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        guard !allowed.isEmpty, !identity.groups.contains(where: allowed.contains) else { return .continue }
        return .reject(reason: "user is not in any of the required groups")
    }
}

/// Keeps only the groups a regular expression matches in full (`groupsFilter`); a partial match
/// does not count, so `eng` keeps `eng` but not `eng-admins`.
public struct GroupsFilterRule: ClaimRule {
    public let pattern: String
    private let regex: CompiledPattern

    /// - Throws: ``ClaimMappingError`` naming `groupsFilter` when `pattern` does not compile.
    public init(pattern: String) throws {
        do {
            regex = CompiledPattern(regex: try Regex(pattern))
        } catch {
            throw ClaimMappingError(problems: ["groupsFilter: invalid regular expression"])
        }
        self.pattern = pattern
    }

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        identity.groups = identity.groups.filter { (try? regex.regex.wholeMatch(in: $0)) != nil }
        return .continue
    }

    /// `Regex<AnyRegexOutput>` is not `Sendable` only because a match's captures may hold arbitrary
    /// values; the compiled program is immutable after its one-time, atomically published lowering
    /// (the same storage `Regex<Substring>` shares across threads as `Sendable`). This rule only asks
    /// whether a match exists and never lets captures escape.
    private struct CompiledPattern: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
    }
}

/// Prepends a namespace to every group (`groupsPrefix`), so groups from different upstreams
/// cannot be confused in RBAC rules.
public struct GroupsPrefixRule: ClaimRule {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        identity.groups = identity.groups.map { prefix + $0 }
        return .continue
    }
}

/// Removes repeated groups, keeping the first occurrence's position. Always part of the pipeline.
public struct DeduplicateGroupsRule: ClaimRule {
    public init() {}

    public func apply(to identity: inout MappedIdentity) -> RuleOutcome {
        var seen = Set<String>()
        identity.groups = identity.groups.filter { seen.insert($0).inserted }
        return .continue
    }
}
