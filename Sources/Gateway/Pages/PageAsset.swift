/// A static file (stylesheet, script, image) served under `<basePath>/static/` or `<basePath>/theme/`.
public struct PageAsset: Sendable, Equatable {
    public var bytes: [UInt8]
    /// The `Content-Type` header value, with a charset for text types.
    public var contentType: String

    public init(bytes: [UInt8], contentType: String) {
        self.bytes = bytes
        self.contentType = contentType
    }

    /// The media type for a file name, by extension (RFC 6838 registered types).
    /// Anything unknown is `application/octet-stream`, which browsers will not execute or render.
    static func contentType(forFileName name: String) -> String {
        let ext = name.split(separator: ".", omittingEmptySubsequences: false).last.map { $0.lowercased() } ?? ""
        switch ext {
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "txt": return "text/plain; charset=utf-8"
        case "html", "htm": return "text/html; charset=utf-8"
        case "json", "map": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "woff": return "font/woff"
        case "woff2": return "font/woff2"
        default: return "application/octet-stream"
        }
    }
}
