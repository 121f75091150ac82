import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `web.clientRemoteIP` (Dex): which address is the client's when Fedgate runs behind a proxy or
/// load balancer. The brute-force limiter's per-address budget and the request log use it; without
/// it every client behind the proxy would share the proxy's address (one attacker would lock
/// everyone out, and the per-address limit would count nobody in particular).
///
/// The header is believed only as far as the proxies are trusted: when the peer is in
/// `trustedProxies`, the header's comma-separated list (`X-Forwarded-For: client, proxy1, proxy2`)
/// is read from the right, skipping addresses of trusted proxies, and the first other address is
/// the client. Anything a client wrote itself sits further left and is never reached. A peer
/// outside `trustedProxies`, a missing header or an entry that is not an IP address leaves the
/// peer's own address. With an empty `trustedProxies` no peer is trusted, so the header is ignored
/// (start-up logs a warning).
public struct ClientRemoteIPSettings: Sendable, Equatable {
    /// e.g. `X-Forwarded-For` or `X-Real-IP`.
    public var header: String
    public var trustedProxies: [IPPrefix]

    public init(header: String, trustedProxies: [IPPrefix]) {
        self.header = header
        self.trustedProxies = trustedProxies
    }

    /// The client's address, given the connection's peer and the header's value(s) (several
    /// header lines are joined with commas, as HTTP allows).
    public func clientAddress(peer: String, header values: [String]) -> String {
        guard let peerBytes = IPPrefix.address(peer), isTrusted(peerBytes) else { return peer }
        let entries = values.joined(separator: ",").split(separator: ",").map { String($0.trimmingOptionalWhitespace) }
        var client = peer
        for entry in entries.reversed() {
            guard let bytes = IPPrefix.address(entry) else { return peer }
            client = IPPrefix.format(bytes)
            if !isTrusted(bytes) { return client }
        }
        // Every hop is a trusted proxy: the leftmost is where the request entered.
        return client
    }

    func isTrusted(_ address: [UInt8]) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }
}

/// An IPv4 or IPv6 prefix in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address is a
/// prefix of its full length. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) count as IPv4.
public struct IPPrefix: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let length: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.address(String(parts[0])) else { return nil }
        let bits = bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard let value = Int(parts[1]), parts[1].allSatisfy(\.isASCII), (0...bits).contains(value) else { return nil }
            length = value
        }
        self.bytes = bytes
        self.length = length
    }

    public var description: String { "\(Self.format(bytes))/\(length)" }

    func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        var remaining = length
        for (a, b) in zip(address, bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a & mask != b & mask { return false }
            remaining -= 8
        }
        return true
    }

    /// 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6; nil for anything else.
    static func address(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }

    static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        return bytes.withUnsafeBytes { raw in
            guard inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil else { return "" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
