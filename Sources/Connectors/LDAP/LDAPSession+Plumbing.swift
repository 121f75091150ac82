import CLDAP
import Foundation

/// A libldap failure: the result code (RFC 4511 §4.1.9, or libldap's negative API codes) and the
/// diagnostic text. Never contains a password.
struct LDAPFailure: Error, Sendable, CustomStringConvertible {
    var code: Int32
    var message: String

    static let serverDown: Int32 = -1     // LDAP_SERVER_DOWN
    static let timeout: Int32 = -5        // LDAP_TIMEOUT
    static let connectError: Int32 = -11  // LDAP_CONNECT_ERROR (includes TLS handshake failures)

    /// The connection is unusable and must be reopened: the server went away, the connect or
    /// TLS handshake failed, or an answer did not come in time.
    var connectionLost: Bool { code == Self.serverDown || code == Self.connectError || code == Self.timeout }

    var description: String { "\(message) (LDAP result \(code))" }
}

/// What a search returned.
struct LDAPSearchResult {
    var entries: [LDAPEntry]
    /// The server stopped at a size limit (RFC 4511 result 4, sizeLimitExceeded).
    var truncated: Bool
}

/// Reading libldap's answers into Swift values, and the small conversions around them.
extension LDAPSession {
    /// The entries of a search answer, every attribute value as raw bytes (`ldap_get_values_len`,
    /// so binary values such as objectGUID keep their NULs and high bytes).
    func entries(_ ld: OpaquePointer, _ message: OpaquePointer) -> [LDAPEntry] {
        var found: [LDAPEntry] = []
        var current = ldap_first_entry(ld, message)
        while let entry = current {
            var dn = ""
            if let pointer = ldap_get_dn(ld, entry) {
                dn = String(cString: pointer)
                ldap_memfree(pointer)
            }
            var attributes: [String: [[UInt8]]] = [:]
            var ber: OpaquePointer?
            var name = ldap_first_attribute(ld, entry, &ber)
            while let attribute = name {
                var values: [[UInt8]] = []
                if let list = ldap_get_values_len(ld, entry, attribute) {
                    var index = 0
                    while let value = list[index] {
                        let length = Int(value.pointee.bv_len)
                        values.append(length == 0 ? [] : Array(UnsafeRawBufferPointer(start: value.pointee.bv_val, count: length)))
                        index += 1
                    }
                    ldap_value_free_len(list)
                }
                attributes[String(cString: attribute), default: []] += values
                ldap_memfree(attribute)
                name = ldap_next_attribute(ld, entry, ber)
            }
            if let ber { ber_free(ber, 0) }
            found.append(LDAPEntry(dn: dn, attributes: attributes))
            current = ldap_next_entry(ld, entry)
        }
        return found
    }

    /// `ldap_err2string` plus the connection's diagnostic message (which carries, e.g., the TLS
    /// library's reason a certificate was refused).
    static func detail(_ ld: OpaquePointer, _ rc: Int32) -> String {
        var text = Self.text(rc)
        if let diagnostic = diagnostic(ld), !diagnostic.isEmpty, diagnostic != text { text += " (\(diagnostic))" }
        return text
    }

    static func diagnostic(_ ld: OpaquePointer) -> String? {
        guard let pointer = cldap_diagnostic(ld) else { return nil }
        defer { ldap_memfree(pointer) }
        return String(cString: pointer)
    }

    static func text(_ rc: Int32) -> String {
        guard let pointer = ldap_err2string(rc) else { return "LDAP error \(rc)" }
        return String(cString: pointer)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// A NULL-terminated `char *[]` for libldap, valid during `body`.
    static func withCStringArray<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
