import ClaimMapping
import FedgateCore
import Foundation
import Testing

@Suite("claim mapping config")
struct ClaimMappingConfigTests {
    @Test("decodes Fedgate's lowerCamel keys, every one optional")
    func decoding() throws {
        let json = """
        {"usernameAttr": "email", "preferredUsernameAttr": "uid", "emailAttr": "mail", "groupsAttr": "memberOf",
         "groupsPrefix": "ldap:", "groupsFilter": "eng-.*", "allowedGroups": ["eng-admins"], "emailSuffix": "corp.example",
         "somethingElse": true}
        """
        let config = try JSONDecoder().decode(ClaimMappingConfig.self, from: Data(json.utf8))
        #expect(config == ClaimMappingConfig(
            usernameAttr: "email", preferredUsernameAttr: "uid", emailAttr: "mail", groupsAttr: "memberOf",
            groupsPrefix: "ldap:", groupsFilter: "eng-.*", allowedGroups: ["eng-admins"], emailSuffix: "corp.example"
        ))
        #expect(config.validate().isEmpty)
        #expect(try JSONDecoder().decode(ClaimMappingConfig.self, from: Data("{}".utf8)) == ClaimMappingConfig())
    }

    @Test("round-trips through JSON and leaves absent keys out")
    func encoding() throws {
        let config = ClaimMappingConfig(groupsPrefix: "gh:", allowedGroups: ["org"])
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(ClaimMappingConfig.self, from: data) == config)
        let keys = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]).keys.sorted()
        #expect(keys == ["allowedGroups", "groupsPrefix"])
    }

    @Test("problems name their field", arguments: [
        (ClaimMappingConfig(groupsFilter: "(unclosed"), "groupsFilter: invalid regular expression"),
        (ClaimMappingConfig(groupsFilter: "[z-a]"), "groupsFilter: invalid regular expression"),
        (ClaimMappingConfig(usernameAttr: ""), "usernameAttr: must not be empty"),
        (ClaimMappingConfig(emailAttr: "  "), "emailAttr: must not be empty"),
        (ClaimMappingConfig(groupsAttr: ""), "groupsAttr: must not be empty"),
        (ClaimMappingConfig(groupsPrefix: "system:oidc:"), "groupsPrefix: must not start with \"system:\" (every group would be dropped)"),
        (ClaimMappingConfig(allowedGroups: ["admins", ""]), "allowedGroups: entries must not be empty"),
        (ClaimMappingConfig(emailSuffix: "@corp.example"), "emailSuffix: must be a domain such as example.com"),
    ])
    func problems(config: ClaimMappingConfig, problem: String) {
        #expect(config.validate() == [problem])
        #expect(throws: ClaimMappingError(problems: [problem])) { try ClaimMapper(config: config) }
    }

    @Test("every problem is reported, and the mapper error names them")
    func severalProblems() {
        let config = ClaimMappingConfig(usernameAttr: "", groupsFilter: "(")
        #expect(config.validate() == ["usernameAttr: must not be empty", "groupsFilter: invalid regular expression"])
        do {
            _ = try ClaimMapper(config: config)
            Issue.record("expected ClaimMapper to refuse the config")
        } catch {
            #expect("\(error)".contains("groupsFilter"))
            #expect("\(error)".contains("usernameAttr"))
        }
    }

    @Test("the filter rule refuses a bad pattern on its own")
    func filterRuleInit() {
        #expect(throws: ClaimMappingError.self) { try GroupsFilterRule(pattern: "a{2,1}") }
        #expect((try? GroupsFilterRule(pattern: "eng-[0-9]+"))?.pattern == "eng-[0-9]+")
    }
}
