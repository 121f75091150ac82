/// Errors a connector reports. The gateway maps them to HTTP answers:
/// `invalidCredentials`/`userNotFound`/`refused` -> `invalid_grant` on refresh, an error page on login;
/// `unreachable` -> 503 with a retry hint; `notInRequiredGroups` -> 403.
public struct ConnectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case userNotFound, refused, unreachable, notInRequiredGroups, invalidConfig, upstreamError
    }
    public let code: Code
    /// Safe to show to the user: never contains secrets.
    public let reason: String

    public init(_ code: Code, _ reason: String) { self.code = code; self.reason = reason }

    public static func userNotFound(_ reason: String = "user no longer exists upstream") -> ConnectorError { .init(.userNotFound, reason) }
    public static func refused(_ reason: String) -> ConnectorError { .init(.refused, reason) }
    public static func unreachable(_ reason: String) -> ConnectorError { .init(.unreachable, reason) }
    public static func notInRequiredGroups(_ reason: String = "user is not in any of the required groups") -> ConnectorError { .init(.notInRequiredGroups, reason) }
    public static func invalidConfig(_ reason: String) -> ConnectorError { .init(.invalidConfig, reason) }
    public static func upstreamError(_ reason: String) -> ConnectorError { .init(.upstreamError, reason) }

    public static func == (a: ConnectorError, b: ConnectorError) -> Bool { a.code == b.code }
    public var description: String { "connector: \(reason)" }
}
