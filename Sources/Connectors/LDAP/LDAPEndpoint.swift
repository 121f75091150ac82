import CLDAP
import Foundation

/// RFC 4511 §4.5.1.2 search scopes the connector uses.
public enum LDAPScope: Int32, Sendable {
    case base = 0      // LDAP_SCOPE_BASE
    case oneLevel = 1  // LDAP_SCOPE_ONELEVEL
    case subtree = 2   // LDAP_SCOPE_SUBTREE
}

/// How the connection is protected.
enum LDAPTransport: Sendable, Equatable {
    /// `ldaps://` (TLS from the first byte), Dex's default.
    case ldaps
    /// `ldap://` upgraded with the StartTLS extended operation (RFC 4511 §4.14) before any bind.
    case startTLS
    /// `ldap://` in clear text: only with `insecureNoSSL: true`, since binds then carry passwords in the clear.
    case plain
}

/// Everything a connection needs, resolved once when the connector opens: the URI, the TLS
/// files (per connector, never libldap's process-wide defaults) and the timeouts.
struct LDAPEndpoint: Sendable {
    var uri: String
    /// `host:port`, for messages.
    var address: String
    var transport: LDAPTransport
    var caFile: String?
    var certFile: String?
    var keyFile: String?
    var skipVerify: Bool
    var connectTimeout: Duration
    var requestTimeout: Duration
    /// A temporary file holding `rootCAData`, removed when the pool shuts down.
    var temporaryCAFile: String?

    /// - Parameters:
    ///   - configDirectory: the config file's folder.
    ///   - workingDirectory: the process's working directory (a parameter for tests).
    init(config: LDAPConfig, configDirectory: String,
         workingDirectory: String = FileManager.default.currentDirectoryPath) throws {
        transport = config.insecureNoSSL ? .plain : (config.startTLS ? .startTLS : .ldaps)
        guard let (host, port) = Self.splitHost(config.host, defaultPort: transport == .ldaps ? 636 : 389) else {
            throw ConnectorError.invalidConfig("ldap host: must be host or host:port")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        address = "\(hostPart):\(port)"
        uri = "\(transport == .ldaps ? "ldaps" : "ldap")://\(address)"
        skipVerify = config.insecureSkipVerify
        connectTimeout = .milliseconds(Int64(config.connectTimeout * 1000))
        requestTimeout = .milliseconds(Int64(config.requestTimeout * 1000))

        /// A relative path is opened from the working directory, as Dex opens it; when nothing
        /// readable is there, from the config file's folder (so a config next to its certificates
        /// works from anywhere). An absolute path is taken as it is.
        func requireReadable(_ path: String, _ key: String) throws -> String {
            let readable = { (file: String) in FileManager.default.isReadableFile(atPath: file) }
            if path.hasPrefix("/") {
                guard readable(path) else { throw ConnectorError.invalidConfig("ldap \(key): cannot read \(path)") }
                return path
            }
            let fromWorkingDirectory = URL(fileURLWithPath: workingDirectory).appendingPathComponent(path).standardized.path
            if readable(fromWorkingDirectory) { return fromWorkingDirectory }
            let fromConfig = URL(fileURLWithPath: configDirectory).appendingPathComponent(path).standardized.path
            if readable(fromConfig) { return fromConfig }
            throw ConnectorError.invalidConfig(
                "ldap \(key): cannot read \(path) (neither \(fromWorkingDirectory), from the working directory, nor \(fromConfig), next to the config file)")
        }

        if transport != .plain {
            if !config.rootCAData.isEmpty {
                // Dex prefers rootCAData over rootCA. libldap takes CAs from a file, so the PEM is
                // written to a private temporary file (mode 0600) for this connector alone.
                guard let pem = Self.decodeRootCAData(config.rootCAData) else {
                    throw ConnectorError.invalidConfig("ldap rootCAData: must be PEM certificates, or base64 of them")
                }
                let file = FileManager.default.temporaryDirectory
                    .appendingPathComponent("fedgate-ldap-ca-\(UUID().uuidString).pem").path
                guard FileManager.default.createFile(atPath: file, contents: Data(pem.utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw ConnectorError.invalidConfig("ldap rootCAData: cannot write a temporary CA file")
                }
                caFile = file
                temporaryCAFile = file
            } else if !config.rootCA.isEmpty {
                let file = try requireReadable(config.rootCA, "rootCA")
                guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else {
                    throw ConnectorError.invalidConfig("ldap rootCA: no PEM certificates found in \(file)")
                }
                caFile = file
            }
            if !config.clientCert.isEmpty {
                certFile = try requireReadable(config.clientCert, "clientCert")
                keyFile = try requireReadable(config.clientKey, "clientKey")
            }
        }
    }

    /// Splits Dex's `host` (`name`, `name:port`, `[v6]:port`) as Go's `net.SplitHostPort` would,
    /// adding the default port when none is given. Nil for a scheme or an invalid port.
    static func splitHost(_ value: String, defaultPort: Int) -> (host: String, port: Int)? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, !text.contains("://"), !text.contains("/"), !text.contains(where: \.isWhitespace) else { return nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return (text, defaultPort)
        case 2:
            guard !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
            return (String(parts[0]), port)
        default:
            // A bare IPv6 address without brackets.
            return (text, defaultPort)
        }
    }

    /// `rootCAData` as PEM: Dex's form is base64 of the PEM (Go's JSON for `[]byte`); PEM given
    /// directly is accepted too. Nil when neither yields a certificate.
    static func decodeRootCAData(_ value: String) -> String? {
        if value.contains("-----BEGIN CERTIFICATE-----") { return value }
        let compact = value.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact), let pem = String(data: data, encoding: .utf8),
              pem.contains("-----BEGIN CERTIFICATE-----") else { return nil }
        return pem
    }
}
