import CLDAP
import Foundation

/// One libldap connection (`LDAP *`), owned by exactly one pool thread: libldap handles are not
/// safe for concurrent use, and every call here may block for up to the job's deadline, so a
/// session never runs on Swift's cooperative pool or a NIO event loop.
///
/// Each operation is sent asynchronously and awaited with `ldap_result` and an explicit
/// timeout (what is left of the job's deadline); a timeout abandons the operation and closes the
/// connection, so a hung directory costs one deadline, not a stuck thread.
final class LDAPSession {
    let endpoint: LDAPEndpoint
    private var handle: OpaquePointer?
    /// The DN the connection is bound as, when the last bind succeeded.
    private(set) var boundDN: String?
    /// When the current job must be done by (set by the pool before each job).
    var deadline: ContinuousClock.Instant = .now
    /// Whether the open connection has already served a job (a failure on it may be a stale
    /// socket, worth one retry on a fresh connection).
    private(set) var reused = false
    /// Whether the server has answered anything on this connection yet: a failure before that
    /// is a connect or TLS handshake failure, and is reported as one.
    private var answered = false

    /// libldap builds a TLS context per handle with LDAP_OPT_X_TLS_NEWCTX; creating them one at
    /// a time keeps the TLS library's global initialisation out of any race.
    private static let tlsContextLock = NSLock()

    /// LDAP_OPT_X_TLS_PROTOCOL_TLS1_2: a function-like macro in ldap.h, so spelled out (SSL 3.3).
    private static let tls12: Int32 = (3 << 8) + 3

    init(endpoint: LDAPEndpoint) {
        self.endpoint = endpoint
    }

    deinit { close() }

    var isOpen: Bool { handle != nil }

    func markJobDone() { if handle != nil { reused = true } }

    /// Drops the connection (an unbind, RFC 4511 §4.3); the next operation reconnects.
    func close() {
        if let handle { _ = cldap_unbind(handle) }
        handle = nil
        boundDN = nil
        reused = false
        answered = false
    }

    // MARK: - Connecting

    private func open() throws(LDAPFailure) -> OpaquePointer {
        if let handle { return handle }
        var created: OpaquePointer?
        let rc = ldap_initialize(&created, endpoint.uri)
        guard rc == LDAP_SUCCESS, let ld = created else {
            throw LDAPFailure(code: rc, message: "cannot set up a connection to \(endpoint.uri): \(Self.text(rc))")
        }
        do throws(LDAPFailure) {
            try configure(ld)
            if endpoint.transport == .startTLS {
                let started = cldap_start_tls(ld)
                if started != LDAP_SUCCESS {
                    throw LDAPFailure(code: started == LDAPFailure.serverDown ? started : LDAPFailure.connectError,
                                      message: connectFailure(ld, started, "StartTLS"))
                }
                answered = true
            }
        } catch {
            _ = cldap_unbind(ld)
            throw error
        }
        handle = ld
        reused = false
        return ld
    }

    private func configure(_ ld: OpaquePointer) throws(LDAPFailure) {
        func check(_ rc: Int32, _ what: String) throws(LDAPFailure) {
            guard rc == LDAP_OPT_SUCCESS else {
                throw LDAPFailure(code: LDAPFailure.connectError, message: "cannot set \(what) for \(endpoint.address): \(Self.detail(ld, rc))")
            }
        }
        try check(cldap_set_int(ld, LDAP_OPT_PROTOCOL_VERSION, LDAP_VERSION3), "LDAPv3")
        // Referrals would make libldap connect to other servers with our credentials.
        try check(cldap_set_off(ld, LDAP_OPT_REFERRALS), "referrals off")
        try check(cldap_set_timeout(ld, LDAP_OPT_NETWORK_TIMEOUT, Self.milliseconds(endpoint.connectTimeout)), "the connect timeout")
        try check(cldap_set_timeout(ld, LDAP_OPT_TIMEOUT, Self.milliseconds(endpoint.requestTimeout)), "the operation timeout")
        guard endpoint.transport != .plain else { return }
        try check(cldap_set_int(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, endpoint.skipVerify ? LDAP_OPT_X_TLS_NEVER : LDAP_OPT_X_TLS_HARD),
                  "certificate checking")
        try check(cldap_set_int(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, Self.tls12), "TLS 1.2 minimum")
        if let caFile = endpoint.caFile { try check(cldap_set_string(ld, LDAP_OPT_X_TLS_CACERTFILE, caFile), "rootCA") }
        if let certFile = endpoint.certFile { try check(cldap_set_string(ld, LDAP_OPT_X_TLS_CERTFILE, certFile), "clientCert") }
        if let keyFile = endpoint.keyFile { try check(cldap_set_string(ld, LDAP_OPT_X_TLS_KEYFILE, keyFile), "clientKey") }
        // A context of this handle's own, built from the options above (not the process-wide one).
        Self.tlsContextLock.lock()
        let rc = cldap_set_int(ld, LDAP_OPT_X_TLS_NEWCTX, 0)
        Self.tlsContextLock.unlock()
        try check(rc, "the TLS context (rootCA, clientCert, clientKey)")
    }

    // MARK: - Operations

    /// A simple bind (RFC 4513 §5.1.3). Returns the result code: 0 on success, 49
    /// (invalidCredentials) for a wrong password, others as the server said. Throws only when
    /// the directory could not be asked.
    func bind(dn: String, password: String) throws(LDAPFailure) -> (code: Int32, diagnostic: String) {
        let ld = try open()
        boundDN = nil
        var msgid: Int32 = 0
        let bytes = Array(password.utf8)
        let rc = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                cldap_simple_bind(ld, dn, chars.baseAddress, chars.count, &msgid)
            }
        }
        guard rc == LDAP_SUCCESS else { throw fail(ld, rc, "bind") }
        let message = try wait(ld, msgid, "bind")
        defer { ldap_msgfree(message) }
        let (code, diagnostic, _) = try parse(ld, message, "bind")
        if code == LDAP_SUCCESS { boundDN = dn }
        return (code, diagnostic)
    }

    /// A search, following RFC 2696 pages when `pageSize > 0` until the server's cookie is empty
    /// or `maxEntries` are collected. noSuchObject (the base DN does not exist) is an empty result.
    func search(base: String, scope: LDAPScope, filter: String, attributes: [String],
                sizeLimit: Int32 = 0, pageSize: Int32 = 0, maxEntries: Int = 100_000) throws(LDAPFailure) -> LDAPSearchResult {
        let ld = try open()
        var result = LDAPSearchResult(entries: [], truncated: false)
        var cookie: [UInt8] = []
        // "1.1" asks for no attributes at all (RFC 4511 §4.5.1.8).
        let requested = attributes.isEmpty ? ["1.1"] : attributes
        repeat {
            var msgid: Int32 = 0
            let remaining = try remainingMilliseconds("search")
            let rc = Self.withCStringArray(requested) { attrs in
                cookie.withUnsafeBufferPointer { raw in
                    raw.withMemoryRebound(to: CChar.self) { chars in
                        cldap_search(ld, base, scope.rawValue, filter, attrs, pageSize, chars.baseAddress, chars.count,
                                     sizeLimit, remaining, &msgid)
                    }
                }
            }
            guard rc == LDAP_SUCCESS else { throw fail(ld, rc, "search") }
            let message = try wait(ld, msgid, "search")
            defer { ldap_msgfree(message) }
            result.entries += entries(ld, message)
            let (code, diagnostic, next) = try parse(ld, message, "search")
            switch code {
            case LDAP_SUCCESS:
                break
            case LDAP_SIZELIMIT_EXCEEDED:
                result.truncated = true
                return result
            case LDAP_NO_SUCH_OBJECT:
                return LDAPSearchResult(entries: [], truncated: false)
            default:
                throw LDAPFailure(code: code, message: "search under \(base) failed: \(diagnostic.isEmpty ? Self.text(code) : diagnostic)")
            }
            cookie = next
        } while pageSize > 0 && !cookie.isEmpty && result.entries.count < maxEntries
        // Stopping with pages left is a partial answer; say so rather than drop entries silently.
        if pageSize > 0 && !cookie.isEmpty { result.truncated = true }
        return result
    }

    // MARK: - libldap plumbing

    private func remainingMilliseconds(_ what: String) throws(LDAPFailure) -> Int {
        let left = deadline - .now
        guard left > .zero else {
            close()
            throw LDAPFailure(code: LDAPFailure.timeout, message: "\(endpoint.address) did not answer the \(what) in time")
        }
        return max(1, Self.milliseconds(left))
    }

    private func wait(_ ld: OpaquePointer, _ msgid: Int32, _ what: String) throws(LDAPFailure) -> OpaquePointer {
        let remaining = try remainingMilliseconds(what)
        var message: OpaquePointer?
        let rc = cldap_wait(ld, msgid, remaining, &message)
        if rc == 0 {
            if let message { ldap_msgfree(message) }
            _ = cldap_abandon(ld, msgid)
            close()
            throw LDAPFailure(code: LDAPFailure.timeout, message: "\(endpoint.address) did not answer the \(what) within \(remaining) ms")
        }
        guard rc > 0, let message else {
            var code: Int32 = LDAPFailure.serverDown
            _ = ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code)
            throw fail(ld, code, what)
        }
        answered = true
        return message
    }

    private func parse(_ ld: OpaquePointer, _ message: OpaquePointer, _ what: String) throws(LDAPFailure) -> (Int32, String, [UInt8]) {
        var code: Int32 = 0
        var diagnostic: UnsafeMutablePointer<CChar>?
        var cookie = berval()
        let rc = cldap_parse_result(ld, message, &code, &diagnostic, &cookie)
        defer {
            if let diagnostic { ldap_memfree(diagnostic) }
            if let value = cookie.bv_val { ber_memfree(value) }
        }
        guard rc == LDAP_SUCCESS else { throw fail(ld, rc, what) }
        let text = diagnostic.map { String(cString: $0) } ?? ""
        var next: [UInt8] = []
        if let value = cookie.bv_val, cookie.bv_len > 0 {
            next = Array(UnsafeRawBufferPointer(start: value, count: Int(cookie.bv_len)))
        }
        return (code, text, next)
    }

    /// Converts a failed call into an `LDAPFailure`, closing the connection when it is gone.
    private func fail(_ ld: OpaquePointer, _ rc: Int32, _ what: String) -> LDAPFailure {
        var failure = LDAPFailure(code: rc, message: "\(what) on \(endpoint.address) failed: \(Self.detail(ld, rc))")
        if failure.connectionLost {
            if !answered && rc != LDAPFailure.timeout { failure.message = connectFailure(ld, rc, endpoint.transport == .ldaps ? "TLS" : "connect") }
            close()
        }
        return failure
    }

    /// A message for a connection that never got going. libldap reports a refused TCP connect
    /// and a refused certificate alike ("Can't contact LDAP server"); the diagnostic tells them
    /// apart: none for TCP, the TLS library's text (GnuTLS's verification failures arrive as
    /// "(unknown error code)") for the handshake.
    private func connectFailure(_ ld: OpaquePointer, _ rc: Int32, _ stage: String) -> String {
        let diagnostic = Self.diagnostic(ld)
        guard endpoint.transport != .plain, let diagnostic, !diagnostic.isEmpty else {
            return "cannot connect to \(endpoint.address): \(Self.text(rc)) (is the directory up and listening there?)"
        }
        let reason = diagnostic == "(unknown error code)"
            ? "the server's certificate was not accepted (not signed by rootCA/rootCAData, expired, or not issued for this host name)"
            : diagnostic
        return "\(stage == "StartTLS" ? "StartTLS" : "TLS handshake") with \(endpoint.address) failed: \(reason)"
    }
}
