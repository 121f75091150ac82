@testable import Connectors
import Foundation
import Testing

@Suite("LDAP filters, DNs and values")
struct LDAPFilterTests {
    @Test("RFC 4515 escaping of the reserved characters and NUL")
    func reserved() {
        #expect(LDAPFilter.escape("*") == "\\2a")
        #expect(LDAPFilter.escape("(") == "\\28")
        #expect(LDAPFilter.escape(")") == "\\29")
        #expect(LDAPFilter.escape("\\") == "\\5c")
        #expect(LDAPFilter.escape("a\u{0}b") == "a\\00b")
        #expect(LDAPFilter.escape("alice") == "alice")
    }

    @Test("an injection attempt stays one value")
    func injection() {
        let filter = LDAPFilter.and("(objectClass=person)", LDAPFilter.equality("uid", Array("admin)(|(uid=*".utf8)))
        #expect(filter == "(&(objectClass=person)(uid=admin\\29\\28|\\28uid=\\2a))")
        #expect(LDAPFilter.isWellFormed(filter))
    }

    @Test("bytes outside printable ASCII are escaped, so binary and UTF-8 values survive")
    func binary() {
        #expect(LDAPFilter.escape([0x9A, 0x3F, 0xFF, 0x0A]) == "\\9a?\\ff\\0a")
        #expect(LDAPFilter.escape("José") == "Jos\\c3\\a9")
    }

    @Test("several username attributes are OR-ed; no configured filter leaves the clause alone")
    func composition() {
        #expect(LDAPFilter.anyEquals(["uid"], Array("bob".utf8)) == "(uid=bob)")
        #expect(LDAPFilter.anyEquals(["sAMAccountName", "userPrincipalName"], Array("h*".utf8))
            == "(|(sAMAccountName=h\\2a)(userPrincipalName=h\\2a))")
        #expect(LDAPFilter.and("  ", "(uid=bob)") == "(uid=bob)")
    }

    @Test("configured filters must be one parenthesised expression", arguments: [
        ("(objectClass=person)", true), ("(&(a=b)(c=d))", true), ("(cn=a\\29b)", true),
        ("objectClass=person", false), ("(a=b)(c=d)", false), ("((a=b)", false), ("(a=b))", false),
    ])
    func wellFormed(_ filter: String, _ expected: Bool) {
        #expect(LDAPFilter.isWellFormed(filter) == expected)
    }

    @Test("attribute descriptions: names, OIDs, options and AD's in-chain rule; nothing structural")
    func attributeNames() {
        for good in ["uid", "memberOf", "userPrincipalName", "objectGUID;binary", "member:1.2.840.113556.1.4.1941:", "2.5.4.3", "DN"] {
            #expect(LDAPFilter.isAttributeDescription(good), "\(good)")
        }
        for bad in ["", "uid)", "(uid", "a=b", "uid*", "-x", "u id"] {
            #expect(!LDAPFilter.isAttributeDescription(bad), "\(bad)")
        }
    }

    @Test("DN helpers: first RDN, unescaping and base DN containment")
    func distinguishedNames() throws {
        let rdn = try #require(LDAPDN.firstRDN("CN=Smith\\, John,OU=Groups,DC=corp,DC=example"))
        #expect(rdn.type == "cn")
        #expect(rdn.value == "Smith, John")
        #expect(LDAPDN.firstRDN("cn=a\\2Cb,dc=x")?.value == "a,b")
        #expect(LDAPDN.isWithin("cn=Admins,OU=Groups,DC=Example,DC=org", base: "ou=groups,dc=example,dc=org"))
        #expect(!LDAPDN.isWithin("cn=Admins,ou=Other,dc=example,dc=org", base: "ou=groups,dc=example,dc=org"))
        #expect(!LDAPDN.isWithin("cn=x,ou=notgroups,dc=example,dc=org", base: "ou=groups,dc=example,dc=org"))
        #expect(LDAPDN.canonical("CN=A, OU=B") == LDAPDN.canonical("cn=a,ou=b"))
        // An escaped separator is part of a value, never a boundary between RDNs.
        #expect(LDAPDN.canonical(#"cn=a\,ou=x,dc=y"#) != LDAPDN.canonical("cn=a,ou=x,dc=y"))
        #expect(LDAPDN.canonical(#"cn=a\2Cb,dc=y"#) == LDAPDN.canonical(#"CN=A\,B,DC=Y"#))
    }

    @Test("binary ids are encoded, text stays text; DN is the entry's DN unless an attribute has that name")
    func entryValues() {
        let guid: [UInt8] = [0x9A, 0x3F, 0x1B, 0x2C, 0xFF, 0x4D, 0x4F, 0x10, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18]
        let entry = LDAPEntry(dn: "cn=Helen Smith,ou=AD,dc=example,dc=org",
                              attributes: ["objectGUID": [guid], "sAMAccountName": [Array("hsmith".utf8)], "weird": [[0xFF, 0xFE]]])
        #expect(entry.string("objectguid") == "mj8bLP9NTxChssPU5fYHGA==")
        #expect(entry.string("objectGUID", binaryEncoding: .hex) == "9a3f1b2cff4d4f10a1b2c3d4e5f60718")
        #expect(entry.string("SAMACCOUNTNAME") == "hsmith")
        #expect(entry.string("weird") == "//4=")
        #expect(entry.string("DN") == "cn=Helen Smith,ou=AD,dc=example,dc=org")
        #expect(entry.string("missing").isEmpty)
    }

    @Test("Go-style durations and plain seconds")
    func durations() {
        #expect(LDAPConfig.parseDuration("5s") == 5)
        #expect(LDAPConfig.parseDuration("500ms") == 0.5)
        #expect(LDAPConfig.parseDuration("1m30s") == 90)
        #expect(LDAPConfig.parseDuration("5") == nil)
        #expect(LDAPConfig.parseDuration("soon") == nil)
    }
}
